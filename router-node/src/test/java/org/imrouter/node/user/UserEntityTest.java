package org.imrouter.node.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.vavr.collection.Vector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.JournalOperation;
import org.apache.pekko.persistence.testkit.ProcessingPolicy;
import org.apache.pekko.persistence.testkit.ProcessingResult;
import org.apache.pekko.persistence.testkit.ProcessingSuccess;
import org.apache.pekko.persistence.testkit.WriteEvents;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.Push;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.Request;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.protocol.persist.DirectReceived;
import org.imrouter.protocol.persist.DirectSent;
import org.imrouter.protocol.persist.GroupMembership;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.UserSnapshot;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link UserEntity} on the in-memory journal and snapshot store: how each command becomes
 * events, replies and pushes, the transfer protocol on both sides, and recovery from events and
 * from snapshots.
 *
 * <p>The node is a cluster of one. The "User" entity type is sharded as a stub that forwards
 * whatever it gets to the probe of that user id, so the transfers user "alice" (the entity under
 * test) makes to her peers can be asserted and acked by hand. Peers get a fresh id per test, so
 * a transfer still in flight from an earlier test never lands on a later test's probe.
 *
 * <p>The entity batches: persistable commands are buffered and written by a self-sent flush, and
 * replies go out once the write is durable. So {@code runCommand} with a reply function is the
 * pattern here: it waits for the reply, by which time the events are in the journal and in the
 * result.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestKitJUnit5Extension.class)
public class UserEntityTest {
  private static final String USER = "alice";
  private static final String PID = UserEntity.persistenceId(USER).id();
  private static final String TEXT = "text/plain";
  private static final Duration SHARDING_START = Duration.ofSeconds(15);
  private static final Duration GATE_TIMEOUT = Duration.ofSeconds(5);

  @JUnit5TestKit
  final ActorTestKit testKit =
      new JUnit5TestKitBuilder()
          .withName("UserEntityTest")
          .withCustomConfig(EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.load("entity-test")))
          .build();

  private final RouterSettings settings = RouterSettings.fromConfig(testKit.system().settings().config());
  private final Map<String, ActorRef<UserEntity.Command>> peerProbes = new ConcurrentHashMap<>();
  private final AtomicInteger peerIds = new AtomicInteger();
  private ClusterSharding sharding;
  private EventSourcedBehaviorTestKit<UserEntity.Command, InboxEvent, UserEntity.State> alice;

  @BeforeAll
  void startClusterOfOne() {
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    testKit.createTestProbe().awaitAssert(() -> {
      assertEquals(MemberStatus.up(), cluster.selfMember().status());
      return null;
    });
    sharding = ClusterSharding.get(testKit.system());
    sharding.init(Entity.of(UserEntity.ENTITY_TYPE_KEY, ctx -> peerStub(ctx.getEntityId())));
    // the region buffers until it has registered with the coordinator: wait for that once here
    Peer first = peer("first");
    sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, first.id()).tell(new UserEntity.TypingFrom("first"));
    first.probe().expectMessage(SHARDING_START, new UserEntity.TypingFrom("first"));
    // Only events are checked: commands and replies are messages, not stored data (their wire
    // format is tested apart), and the State is never serialized as such: UserSnapshots turns it
    // into a UserSnapshot first (PersistenceSerializationTest round-trips that).
    alice =
        EventSourcedBehaviorTestKit.create(
            testKit.system(),
            UserEntity.create(USER, settings, sharding, null),
            EventSourcedBehaviorTestKit.enabledSerializationSettings()
                .withVerifyEquality(true)
                .withVerifyCommands(false)
                .withVerifyState(false));
  }

  @BeforeEach
  void clear() {
    alice.clear();
  }

  // ------------------------------------------------------------------ sending

  @Test
  void sendPersistsSentWithACounterPerPeerAndAcceptsWithTheItemsSeq() {
    Peer bob = peer("bob");
    Peer carol = peer("carol");

    List<Reply.Accepted> accepted = new ArrayList<>();
    List<InboxEvent> events = new ArrayList<>();
    for (String[] send :
        new String[][] {{"c1", bob.address()}, {"c2", bob.address()}, {"c3", carol.address()}, {"c4", bob.address()}}) {
      var result = alice.<Reply>runCommand(r -> send(send[0], send[1], "text " + send[0], r));
      accepted.add(result.replyOfType(Reply.Accepted.class));
      assertEquals(1, result.events().size());
      events.add(result.event());
    }

    assertEquals(List.of(1L, 2L, 1L, 3L), events.stream().map(e -> e.getSent().getCounter()).toList());
    assertEquals(List.of(bob.id, bob.id, carol.id, bob.id), events.stream().map(e -> e.getSent().getPeer()).toList());
    // the seq of an acceptance is the persistence sequence number of its event
    List<Object> journal = alice.persistenceTestKit().persistedInStorage(PID);
    assertEquals(events, journal);
    for (int i = 0; i < accepted.size(); i++) {
      Reply.Accepted a = accepted.get(i);
      DirectSent sent = events.get(i).getSent();
      assertEquals(new Reply.Accepted("c" + (i + 1), Ids.INBOX, i + 1, sent.getMsgId(), events.get(i).getTs()), a);
      assertEquals("c" + (i + 1), sent.getClientMsgId());
      assertEquals("text c" + (i + 1), sent.getText());
    }
    assertEquals(4, alice.getState().lastSeq());

    // each peer gets its own items, in order, numbered by its own counter
    assertDeliver(bob.expectDeliver(), 1, accepted.get(0), "text c1");
    assertDeliver(bob.expectDeliver(), 2, accepted.get(1), "text c2");
    assertDeliver(bob.expectDeliver(), 3, accepted.get(3), "text c4");
    assertDeliver(carol.expectDeliver(), 1, accepted.get(2), "text c3");
    bob.probe.expectNoMessage();
    carol.probe.expectNoMessage();
  }

  @Test
  void aRepeatedClientMsgIdGetsTheOriginalAcceptanceAndCreatesNothing() {
    Peer bob = peer("bob");
    var first = alice.<Reply>runCommand(r -> send("same", bob.address(), "hello", r));
    bob.expectDeliver();

    var again = alice.<Reply>runCommand(r -> send("same", bob.address(), "hello, edited", r));

    assertEquals(first.reply(), again.reply());
    assertTrue(again.hasNoEvents());
    assertEquals(1, alice.getState().lastSeq());
    bob.probe.expectNoMessage();
  }

  @Test
  void sendsWithoutAClientMsgIdAreNotDeduplicated() {
    Peer bob = peer("bob");
    var first = alice.<Reply>runCommand(r -> send("", bob.address(), "one", r));
    var second = alice.<Reply>runCommand(r -> send("", bob.address(), "two", r));

    assertEquals(1, first.replyOfType(Reply.Accepted.class).seq());
    assertEquals(2, second.replyOfType(Reply.Accepted.class).seq());
    assertEquals(1, bob.expectDeliver().counter());
    assertEquals(2, bob.expectDeliver().counter());
  }

  @Test
  void aSendToAnythingButAValidUserIsRejectedAndCreatesNothing() {
    for (String to : List.of("group:g1", "bob", "user:", "user:bad id", "inbox")) {
      var result = alice.<Reply>runCommand(r -> send("c-" + to, to, "x", r));
      assertEquals(ErrorCode.BAD_FRAME, result.replyOfType(Reply.Rejection.class).code(), to);
      assertTrue(result.hasNoEvents(), to);
    }
    assertEquals(0, alice.getState().lastSeq());
  }

  @Test
  void aSendToOneselfIsStoredOnceAndNotTransferred() {
    var result = alice.<Reply>runCommand(r -> send("note", Ids.userConversation(USER), "to self", r));

    assertEquals(1, result.replyOfType(Reply.Accepted.class).seq());
    assertEquals(0, result.event().getSent().getCounter());
    assertTrue(result.state().outbox().isEmpty());
  }

  @Test
  void commandsThatQueueUpGoOutAsOneJournalWriteEachWithItsOwnSeqAndReply() {
    String user = "batcher-" + peerIds.incrementAndGet();
    String pid = UserEntity.persistenceId(user).id();
    RecordingJournal recording = new RecordingJournal(pid);
    PersistenceTestKit journal = alice.persistenceTestKit();
    journal.withPolicy(recording);
    try {
      TestProbe<Reply> replies = testKit.createTestProbe();
      ActorRef<UserEntity.Command> entity = testKit.spawn(UserEntity.create(user, settings, sharding, null));
      String self = Ids.userConversation(user);
      // all three arrive while the entity is still recovering, so they are in hand together
      entity.tell(send("b1", self, "1", replies.ref()));
      entity.tell(send("b2", self, "2", replies.ref()));
      entity.tell(send("b3", self, "3", replies.ref()));
      recording.recoveryGate.countDown();

      assertEquals(List.of(1L, 2L, 3L), replies.receiveSeveralMessages(3).stream().map(r -> ((Reply.Accepted) r).seq()).toList());
      assertEquals(List.of(3), recording.writeSizes);
      testKit.stop(entity);
    } finally {
      journal.resetPolicy();
    }
  }

  @Test
  void noAcceptanceWithoutADurableWrite() {
    FailingWrite f = entityWhoseNextWriteFails("fragile", quick(Duration.ofMillis(50), Duration.ofMinutes(1)));

    f.send("c1");
    // the write fails and the entity restarts after a backoff; the client retries until accepted
    Reply.Accepted accepted = f.resendUntilAccepted("c1");

    // whatever was accepted is in the journal: the failed attempt accepted nothing
    List<Object> stored = alice.persistenceTestKit().persistedInStorage(f.pid());
    assertEquals(1, stored.size());
    assertEquals(1, accepted.seq());
    assertEquals(((InboxEvent) stored.get(0)).getSent().getMsgId(), accepted.msgId());
    testKit.stop(f.entity());
  }

  /**
   * A send whose journal write failed is answered UNAVAILABLE when its entity restarts, not left
   * to the asker's timeout: during a storage outage clients learn at once that they must retry.
   */
  @Test
  void aFailedWriteIsAnsweredUnavailableAtOnce() {
    FailingWrite f = entityWhoseNextWriteFails("failing", quick(Duration.ofMinutes(1), Duration.ofMinutes(1)));

    f.send("f1");
    f.expectRefusedNotWritten(); // no ask timeout here: without the answer, none comes
    assertTrue(alice.persistenceTestKit().persistedInStorage(f.pid()).isEmpty());
    testKit.stop(f.entity());
  }

  /**
   * An entity whose write fails while more commands wait than one batch takes still writes after
   * its restart, whatever becomes of the flush it had asked for: the persistence library hands it
   * back after the restart today, and {@code WriteBufferTest} covers the buffer when it is dropped
   * (a buffer still waiting for it would never write again).
   */
  @Test
  void anEntityRestartedWithABacklogWritesAgain() {
    RouterSettings oneAtATime =
        settings(Map.of("router.entity.transfer-retry", "50ms", "router.entity.passivate-idle", "1m", "router.entity.max-batch", "1"));
    FailingWrite f = entityWhoseNextWriteFails("backlog", oneAtATime);

    // one write in flight and, as far as they arrive in time, two waiting behind it when it fails;
    // whatever arrives after the failure is written once the entity has restarted
    List<String> ids = List.of("b1", "b2", "b3");
    ids.forEach(f::send);
    f.expectRefusedNotWritten(); // b1's write failed
    // every one is written in the end, once: a retry with the same id is answered from the first
    ids.forEach(f::resendUntilAccepted);
    List<String> stored =
        alice.persistenceTestKit().persistedInStorage(f.pid()).stream().map(e -> ((InboxEvent) e).getSent().getClientMsgId()).sorted().toList();
    assertEquals(ids, stored);
    testKit.stop(f.entity());
  }

  // ------------------------------------------------------------------ transfers, sender side

  @Test
  void aBehindAckResendsFromTheGapOnce() {
    Peer bob = peer("bob");
    List<Reply.Accepted> accepted = new ArrayList<>();
    for (String id : List.of("c1", "c2", "c3")) {
      accepted.add(alice.<Reply>runCommand(r -> send(id, bob.address(), id, r)).replyOfType(Reply.Accepted.class));
    }
    UserEntity.Deliver first = bob.expectDeliver();
    bob.expectDeliver();
    bob.expectDeliver();

    // bob has 1 and was offered something later: 2 and 3 were lost on the way
    first.ackTo().tell(new TransferAck(bob.id, 1, true));
    assertDeliver(bob.expectDeliver(), 2, accepted.get(1), "c2");
    assertDeliver(bob.expectDeliver(), 3, accepted.get(2), "c3");
    // the same gap reported again (say, by the other copy of 3) is not resent twice
    first.ackTo().tell(new TransferAck(bob.id, 1, true));
    bob.probe.expectNoMessage();
  }

  @Test
  void ackedTransfersLeaveTheOutboxWithTheNextEvent() {
    Peer bob = peer("bob");
    alice.<Reply>runCommand(r -> send("c1", bob.address(), "1", r));
    alice.<Reply>runCommand(r -> send("c2", bob.address(), "2", r));
    UserEntity.Deliver first = bob.expectDeliver();
    bob.expectDeliver();
    assertEquals(List.of(1L, 2L), counters(alice.getState().outbox().unacked(bob.id, 0)));

    first.ackTo().tell(new TransferAck(bob.id, 1, false));
    var next = alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, 1, r));

    assertEquals(List.of(2L), counters(next.state().outbox().unacked(bob.id, 0)));
    assertEquals(2, next.state().outbox().nextCounter(bob.id) - 1);
  }

  @Test
  void unconfirmedTransfersAreResentAfterRecovery() {
    Peer bob = peer("bob");
    var a1 = alice.<Reply>runCommand(r -> send("c1", bob.address(), "1", r)).replyOfType(Reply.Accepted.class);
    var a2 = alice.<Reply>runCommand(r -> send("c2", bob.address(), "2", r)).replyOfType(Reply.Accepted.class);
    bob.expectDeliver().ackTo().tell(new TransferAck(bob.id, 1, false));
    bob.expectDeliver();

    alice.restart();

    // acks are not journaled: everything still in the recovered outbox goes out again, in order
    assertDeliver(bob.expectDeliver(), 1, a1, "1");
    assertDeliver(bob.expectDeliver(), 2, a2, "2");
    bob.probe.expectNoMessage();
  }

  @Test
  void theOutboxOfASnapshotIsWhatIsResentAfterRecovery() {
    Peer bob = peer("bob");
    Peer carol = peer("carol");
    alice.<Reply>runCommand(r -> send("c1", bob.address(), "1", r));
    var a2 = alice.<Reply>runCommand(r -> send("c2", bob.address(), "2", r)).replyOfType(Reply.Accepted.class);
    bob.expectDeliver().ackTo().tell(new TransferAck(bob.id, 1, false));
    bob.expectDeliver();
    // the third event prunes bob's acked 1 and is snapshotted (snapshot-every = 3)
    var a3 = alice.<Reply>runCommand(r -> send("c3", carol.address(), "3", r)).replyOfType(Reply.Accepted.class);
    carol.expectDeliver();
    UserSnapshot snapshot = alice.snapshotTestKit().orElseThrow().expectNextPersistedClass(PID, UserSnapshot.class);
    assertEquals(3, snapshot.getLastSeq());

    alice.persistenceTestKit().clearByIdPreservingSeqNumbers(PID);
    alice.restart();

    assertDeliver(bob.expectDeliver(), 2, a2, "2");
    assertDeliver(carol.expectDeliver(), 1, a3, "3");
    bob.probe.expectNoMessage();
    carol.probe.expectNoMessage();
    // counters continue from the snapshot
    alice.<Reply>runCommand(r -> send("c4", bob.address(), "4", r));
    assertEquals(3, bob.expectDeliver().counter());
  }

  // ------------------------------------------------------------------ transfers, receiver side

  @Test
  void deliverStoresOnlyTheNextCounterOfEachSender() {
    var stored = alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    assertEquals(new TransferAck(USER, 1, false), stored.reply());
    DirectReceived received = stored.event().getReceived();
    assertEquals("bob", received.getPeer());
    assertEquals("m1", received.getMsgId());
    assertEquals(1, received.getCounter());
    assertEquals(1, stored.state().receivedFrom("user:bob"));

    // a resend of what is stored: acked with what is stored, nothing new
    var duplicate = alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    assertEquals(new TransferAck(USER, 1, false), duplicate.reply());
    assertTrue(duplicate.hasNoEvents());

    // ahead of a gap: acked with what is stored and flagged behind, nothing new
    var ahead = alice.<TransferAck>runCommand(ack -> deliver("bob", 3, "m3", ack));
    assertEquals(new TransferAck(USER, 1, true), ahead.reply());
    assertTrue(ahead.hasNoEvents());

    var next = alice.<TransferAck>runCommand(ack -> deliver("bob", 2, "m2", ack));
    assertEquals(new TransferAck(USER, 2, false), next.reply());
    assertEquals("m2", next.event().getReceived().getMsgId());

    // counters are per sender
    var other = alice.<TransferAck>runCommand(ack -> deliver("carol", 1, "n1", ack));
    assertEquals(new TransferAck(USER, 1, false), other.reply());
    assertEquals(3, other.state().lastSeq());
    assertEquals(2, other.state().receivedFrom("user:bob"));
    assertEquals(1, other.state().receivedFrom("user:carol"));
  }

  @Test
  void membershipNoticesAreStoredOnceInOrderAndTrackTheGroups() {
    var added = alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    assertEquals(new TransferAck(USER, 1, false), added.reply());
    GroupMembership membership = added.event().getMembership();
    assertEquals("g1", membership.getGroupId());
    assertTrue(membership.getMember());
    assertEquals("owner", membership.getActor());
    assertEquals(List.of("g1"), added.state().groups().toJavaList());

    var duplicate = alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    assertEquals(new TransferAck(USER, 1, false), duplicate.reply());
    assertTrue(duplicate.hasNoEvents());

    var ahead = alice.<TransferAck>runCommand(ack -> notice("g1", 3, true, ack));
    assertEquals(new TransferAck(USER, 1, true), ahead.reply());
    assertTrue(ahead.hasNoEvents());

    // the group counter is apart from a user's counter with the same id
    var fromUser = alice.<TransferAck>runCommand(ack -> deliver("g1", 1, "m1", ack));
    assertEquals(new TransferAck(USER, 1, false), fromUser.reply());

    var removed = alice.<TransferAck>runCommand(ack -> notice("g1", 2, false, ack));
    assertEquals(new TransferAck(USER, 2, false), removed.reply());
    assertTrue(removed.state().groups().isEmpty());
    assertEquals(2, removed.state().receivedFrom(Ids.groupStream("g1")));
  }

  // ------------------------------------------------------------------ backend publishes

  @Test
  void aSystemMessageIsStoredOncePerSenderAndKeyAndLeavesTransferCountersAlone() {
    var first = alice.<Reply>runCommand(r -> system("system:billing", "inv-1", "due", r));
    Reply.Accepted accepted = first.replyOfType(Reply.Accepted.class);
    DirectReceived received = first.event().getReceived();
    assertEquals(new Reply.Accepted("inv-1", Ids.INBOX, 1, received.getMsgId(), first.event().getTs()), accepted);
    assertEquals("system:billing", received.getPeer());
    assertEquals("inv-1", received.getIdempotencyKey());
    assertEquals(0, received.getCounter());
    assertTrue(first.state().received().isEmpty());

    var retry = alice.<Reply>runCommand(r -> system("system:billing", "inv-1", "due", r));
    assertEquals(accepted, retry.reply());
    assertTrue(retry.hasNoEvents());

    // the key is the sender's own: another sender, or the user, may use the same string
    var other = alice.<Reply>runCommand(r -> system("system:alerts", "inv-1", "hi", r));
    assertEquals(2, other.replyOfType(Reply.Accepted.class).seq());
    Peer bob = peer("bob");
    var own = alice.<Reply>runCommand(r -> send("inv-1", bob.address(), "mine", r));
    assertEquals(3, own.replyOfType(Reply.Accepted.class).seq());
    bob.expectDeliver();
  }

  @Test
  void aUserCannotTakeABackendsIdempotencyKeyInAdvance() {
    Peer bob = peer("bob");
    // a clientMsgId shaped like a backend's key joined to its sender: keys are kept per sender,
    // so it is only ever the user's own key
    var crafted = alice.<Reply>runCommand(r -> send("system:billing\ninv-9", bob.address(), "x", r));
    assertEquals(1, crafted.replyOfType(Reply.Accepted.class).seq());
    bob.expectDeliver();

    // so the backend's publish is stored, not answered with the user's acceptance
    var published = alice.<Reply>runCommand(r -> system("system:billing", "inv-9", "invoice", r));
    Reply.Accepted accepted = published.replyOfType(Reply.Accepted.class);
    assertEquals("invoice", published.event().getReceived().getText());
    assertEquals(published.event().getReceived().getMsgId(), accepted.msgId());
    assertEquals("inv-9", accepted.clientMsgId());
  }

  @Test
  void aFollowerGetsEveryNewItemWithoutTakingAConnection() {
    alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    TestProbe<Push> follower = testKit.createTestProbe();
    assertEquals(1L, alice.<UserEntity.Following>runCommand(r -> new UserEntity.Follow(follower.ref(), r)).reply().lastSeq());
    for (int i = 0; i < settings.limits().connectionsPerUser(); i++) {
      connect(testKit.createTestProbe(), UserEntity.Connected.class);
    }

    InboxEvent next = alice.<TransferAck>runCommand(ack -> deliver("bob", 2, "m2", ack)).event();

    follower.expectMessage(new StreamItem.Inbox(USER, 2, next));
    assertEquals(2L, alice.<Long>runCommand(UserEntity.GetLastSeq::new).reply());
  }

  // ------------------------------------------------------------------ read cursors

  @Test
  void readCursorsMoveForwardOnlyAndOnlyOnStreamsTheUserMayRead() {
    alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    alice.<TransferAck>runCommand(ack -> deliver("bob", 2, "m2", ack));

    var moved = alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, 2, r));
    assertEquals(new Reply.Done(), moved.reply());
    assertEquals(Ids.INBOX, moved.event().getRead().getTarget());
    assertEquals(2, moved.event().getRead().getReadSeq());
    assertEquals(2, moved.state().cursor(Ids.INBOX));

    for (long seq : new long[] {2, 1, 0}) {
      var backwards = alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, seq, r));
      assertEquals(new Reply.Done(), backwards.reply());
      assertTrue(backwards.hasNoEvents());
      assertEquals(2, backwards.state().cursor(Ids.INBOX));
    }

    long end = alice.getState().lastSeq();
    assertReadRejected(Ids.INBOX, end + 1, ErrorCode.BAD_FRAME);
    assertReadRejected(Ids.INBOX, -1, ErrorCode.BAD_FRAME);
    assertReadRejected("user:bob", 1, ErrorCode.BAD_FRAME);
    assertReadRejected("nonsense", 1, ErrorCode.BAD_FRAME);
    assertReadRejected("group:g1", 1, ErrorCode.NOT_A_MEMBER);

    alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    var group = alice.<Reply>runCommand(r -> new UserEntity.MarkRead("group:g1", 7, r));
    assertEquals(new Reply.Done(), group.reply());
    assertEquals(7, group.state().cursor("group:g1"));
    assertEquals(2, group.state().cursor(Ids.INBOX));
  }

  // ------------------------------------------------------------------ sync

  @Test
  void syncServesRecentItemsFromMemory() {
    List<InboxEvent> events = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      int counter = i;
      events.add(alice.<TransferAck>runCommand(ack -> deliver("bob", counter, "m" + counter, ack)).event());
    }

    Reply.HistoryPage all = sync(0, 10, Reply.HistoryPage.class);
    assertEquals(Ids.INBOX, all.stream());
    assertEquals(
        List.of(
            new StreamItem.Inbox(USER, 1, events.get(0)),
            new StreamItem.Inbox(USER, 2, events.get(1)),
            new StreamItem.Inbox(USER, 3, events.get(2))),
        all.items());
    assertFalse(all.hasMore());

    Reply.HistoryPage page = sync(1, 1, Reply.HistoryPage.class);
    assertEquals(List.of(new StreamItem.Inbox(USER, 2, events.get(1))), page.items());
    assertTrue(page.hasMore());

    Reply.HistoryPage upToDate = sync(3, 10, Reply.HistoryPage.class);
    assertTrue(upToDate.items().isEmpty());
    assertFalse(upToDate.hasMore());
  }

  @Test
  void syncPointsIntoTheJournalWhenItReachesPastTheRecentItems() {
    int recent = settings.entity().recentItems();
    int total = recent + 2;
    for (int i = 1; i <= total; i++) {
      int counter = i;
      alice.<TransferAck>runCommand(ack -> deliver("bob", counter, "m" + counter, ack));
    }
    assertEquals(total, alice.persistenceTestKit().persistedInStorage(PID).size());

    assertEquals(new Reply.HistoryInJournal(Ids.INBOX, USER, PID, 1, total, false, List.of()), sync(0, 100, Reply.HistoryInJournal.class));
    assertEquals(new Reply.HistoryInJournal(Ids.INBOX, USER, PID, 1, 3, true, List.of()), sync(0, 3, Reply.HistoryInJournal.class));
    assertEquals(new Reply.HistoryInJournal(Ids.INBOX, USER, PID, 2, total, false, List.of()), sync(1, 100, Reply.HistoryInJournal.class));

    // from the first item still held on, memory serves
    Reply.HistoryPage page = sync(total - recent, 100, Reply.HistoryPage.class);
    assertEquals(recent, page.items().size());
    assertEquals(total - recent + 1, page.items().get(0).seq());
    assertEquals(total, page.items().get(recent - 1).seq());
  }

  // ------------------------------------------------------------------ sessions

  @Test
  void connectWelcomesUpToTheLimitOfConnectionsPerUser() {
    alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, 1, r));
    int limit = settings.limits().connectionsPerUser();
    List<TestProbe<Push>> sessions = new ArrayList<>();
    for (int i = 0; i < limit; i++) {
      TestProbe<Push> session = testKit.createTestProbe();
      UserEntity.Connected connected = connect(session, UserEntity.Connected.class);
      assertEquals(2, connected.lastSeq());
      assertEquals(Map.of(Ids.INBOX, 1L), connected.cursors());
      assertEquals(List.of("g1"), connected.groups());
      sessions.add(session);
    }

    TestProbe<Push> oneTooMany = testKit.createTestProbe();
    assertEquals(ErrorCode.RATE_LIMITED, connect(oneTooMany, UserEntity.Refused.class).code());
    // a session that is already registered may register again
    connect(sessions.get(0), UserEntity.Connected.class);

    // a disconnect frees a place
    alice.runCommand(new UserEntity.Disconnect(sessions.get(1).ref()));
    connect(oneTooMany, UserEntity.Connected.class);

    // so does a session that stops without saying so
    sessions.get(0).stop();
    TestProbe<Push> late = testKit.createTestProbe();
    late.awaitAssert(() -> connect(late, UserEntity.Connected.class));
  }

  @Test
  void everySessionGetsEveryNewItemIncludingItsOwnSendsButNotDuplicates() {
    Peer bob = peer("bob");
    TestProbe<Push> phone = testKit.createTestProbe();
    TestProbe<Push> laptop = testKit.createTestProbe();
    connect(phone, UserEntity.Connected.class);
    connect(laptop, UserEntity.Connected.class);

    InboxEvent sent = alice.<Reply>runCommand(r -> send("c1", bob.address(), "hi", r)).event();
    InboxEvent received = alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack)).event();
    InboxEvent read = alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, 2, r)).event();
    alice.<Reply>runCommand(r -> send("c1", bob.address(), "hi", r));
    alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    alice.runCommand(new UserEntity.TypingFrom("bob"));
    bob.expectDeliver();

    for (TestProbe<Push> session : List.of(phone, laptop)) {
      session.expectMessage(new StreamItem.Inbox(USER, 1, sent));
      session.expectMessage(new StreamItem.Inbox(USER, 2, received));
      session.expectMessage(new StreamItem.Inbox(USER, 3, read));
      session.expectMessage(new Push.Typing("bob", "user:bob"));
      session.expectNoMessage();
    }
    // typing is never stored
    assertEquals(3, alice.getState().lastSeq());
  }

  @Test
  void typingGoesOnlyToUsersWithAConversationAndAtMostOncePerWindow() {
    Peer bob = peer("bob"); // alice wrote to bob
    Peer carol = peer("carol"); // carol wrote to alice
    Peer stranger = peer("stranger");
    alice.<Reply>runCommand(r -> send("c1", bob.address(), "hi", r));
    bob.expectDeliver();
    alice.<TransferAck>runCommand(ack -> deliver(carol.id(), 1, "m1", ack));

    alice.runCommand(new UserEntity.TypingTo(stranger.id()));
    alice.runCommand(new UserEntity.TypingTo(bob.id()));
    alice.runCommand(new UserEntity.TypingTo(bob.id())); // within the typing window: coalesced
    alice.runCommand(new UserEntity.TypingTo(carol.id()));

    bob.probe().expectMessage(new UserEntity.TypingFrom(USER));
    carol.probe().expectMessage(new UserEntity.TypingFrom(USER));
    bob.probe().expectNoMessage();
    stranger.probe().expectNoMessage();
    assertEquals(2, alice.getState().lastSeq(), "typing is never stored");
  }

  // ------------------------------------------------------------------ recovery

  @Test
  void restartRecoversTheSameStateAndBehaviour() {
    Peer carol = peer("carol");
    alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    Reply.Accepted accepted = alice.<Reply>runCommand(r -> send("c1", carol.address(), "hi", r)).replyOfType(Reply.Accepted.class);
    carol.expectDeliver();
    alice.<Reply>runCommand(r -> new UserEntity.MarkRead(Ids.INBOX, 2, r));
    alice.<Reply>runCommand(r -> new UserEntity.MarkRead("group:g1", 9, r));
    UserEntity.State before = alice.getState();

    UserEntity.State after = alice.restart().state();

    assertEquals(recentAside(before), recentAside(after));
    // the recent items are the events replayed after the snapshot of seq 3
    assertEquals(List.of(4L, 5L), after.recent().items().map(StreamItem::seq).toJavaList());
    assertEquals(5, after.lastSeq());
    assertEquals(accepted, after.dedup().find(USER, "c1").get());
    assertEquals(List.of("g1"), after.groups().toJavaList());
    assertEquals(2, after.cursor(Ids.INBOX));
    assertEquals(9, after.cursor("group:g1"));
    assertEquals(1, after.receivedFrom("user:bob"));
    assertEquals(1, after.receivedFrom("group:g1"));
    assertSameBehaviourAfterRecovery(carol, accepted, 6);
  }

  @Test
  void recoveryFromASnapshotAloneGivesTheSameStateAndBehaviour() {
    Peer carol = peer("carol");
    Peer dave = peer("dave");
    alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    alice.<Reply>runCommand(r -> send("d1", dave.address(), "hey", r));
    dave.expectDeliver().ackTo().tell(new TransferAck(dave.id, 1, false));
    // from this event on, dave's counter is in no pending item, only in the sent counters
    alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    Reply.Accepted accepted = alice.<Reply>runCommand(r -> send("c1", carol.address(), "hi", r)).replyOfType(Reply.Accepted.class);
    carol.expectDeliver();
    alice.<Reply>runCommand(r -> new UserEntity.MarkRead("group:g1", 9, r));
    Reply.Accepted published =
        alice.<Reply>runCommand(r -> system("system:billing", "inv-1", "due", r)).replyOfType(Reply.Accepted.class);
    UserEntity.State before = alice.getState();
    assertTrue(before.outbox().unacked(dave.id, 0).isEmpty());
    var snapshots = alice.snapshotTestKit().orElseThrow();
    assertEquals(3, snapshots.expectNextPersistedClass(PID, UserSnapshot.class).getLastSeq());
    assertEquals(6, snapshots.expectNextPersistedClass(PID, UserSnapshot.class).getLastSeq());

    // no events left to replay: whatever the state is now came through UserSnapshots
    alice.persistenceTestKit().clearByIdPreservingSeqNumbers(PID);
    UserEntity.State after = alice.restart().state();

    assertEquals(recentAside(before), after); // nothing replayed: no recent items

    assertEquals(6, after.lastSeq());
    assertEquals(1, after.receivedFrom("user:bob"));
    assertEquals(9, after.cursor("group:g1"));
    assertSameBehaviourAfterRecovery(carol, accepted, 7);
    var retry = alice.<Reply>runCommand(r -> system("system:billing", "inv-1", "due", r));
    assertEquals(published, retry.reply());
    assertTrue(retry.hasNoEvents());
    // dave's next message is his 2, not a second 1 that his inbox would drop as a resend
    alice.<Reply>runCommand(r -> send("d2", dave.address(), "again", r));
    assertEquals(2, dave.expectDeliver().counter());
    dave.probe.expectNoMessage();
  }


  /** What recovery must have kept, seen from outside: dedup, counters both ways, the outbox. */
  private void assertSameBehaviourAfterRecovery(Peer carol, Reply.Accepted accepted, long nextSeq) {
    // the unacked transfer is resent
    assertEquals(accepted.msgId(), carol.expectDeliver().msgId());

    var again = alice.<Reply>runCommand(r -> send("c1", carol.address(), "hi", r));
    assertEquals(accepted, again.reply());
    assertTrue(again.hasNoEvents());

    var duplicate = alice.<TransferAck>runCommand(ack -> deliver("bob", 1, "m1", ack));
    assertTrue(duplicate.hasNoEvents());
    var notice = alice.<TransferAck>runCommand(ack -> notice("g1", 1, true, ack));
    assertTrue(notice.hasNoEvents());

    var next = alice.<Reply>runCommand(r -> send("c2", carol.address(), "more", r));
    assertEquals(nextSeq, next.replyOfType(Reply.Accepted.class).seq());
    assertEquals(2, carol.expectDeliver().counter());
    carol.probe.expectNoMessage();
  }

  // ------------------------------------------------------------------ housekeeping

  @Test
  void anUnackedTransferIsResentOnTheTickAndTheEntityPassivatesOnlyOnceItIsAcked() {
    Duration retry = Duration.ofMillis(50);
    Duration idle = Duration.ofMillis(100);
    String user = "idler-" + peerIds.incrementAndGet();
    Peer bob = peer("bob");
    TestProbe<ClusterSharding.ShardCommand> shard = testKit.createTestProbe();
    TestProbe<Reply> replies = testKit.createTestProbe();
    ActorRef<UserEntity.Command> entity = testKit.spawn(UserEntity.create(user, quick(retry, idle), sharding, shard.ref()));

    entity.tell(send("c1", bob.address(), "hi", replies.ref()));
    replies.expectMessageClass(Reply.Accepted.class);
    UserEntity.Deliver first = bob.expectDeliver();
    assertEquals(1, first.counter());
    // no ack: resent after the retry interval, and the entity does not passivate
    assertEquals(first.msgId(), bob.expectDeliver().msgId());
    shard.expectNoMessage(idle.multipliedBy(3));

    first.ackTo().tell(new TransferAck(bob.id, 1, false));
    shard.expectMessage(new ClusterSharding.Passivate<>(entity));
    testKit.stop(entity);
  }

  @Test
  void theHandOffStopWritesAndAnswersWhatIsBufferedFirst() {
    String user = "handoff-" + peerIds.incrementAndGet();
    String self = Ids.userConversation(user);
    TestProbe<Reply> replies = testKit.createTestProbe();
    ActorRef<UserEntity.Command> entity = testKit.spawn(UserEntity.create(user, settings, sharding, null));

    // sharding's stop right behind a send: the send is buffered, its flush queued after the stop
    entity.tell(send("c1", self, "last words", replies.ref()));
    entity.tell(UserEntity.Stop.INSTANCE);

    Reply.Accepted accepted = replies.expectMessageClass(Reply.Accepted.class);
    replies.expectTerminated(entity);
    List<Object> stored = alice.persistenceTestKit().persistedInStorage(UserEntity.persistenceId(user).id());
    assertEquals(1, stored.size());
    assertEquals(((InboxEvent) stored.get(0)).getSent().getMsgId(), accepted.msgId());
  }

  // ------------------------------------------------------------------ helpers

  /** A peer user: its sharded "User" entity forwards everything to {@code probe}. */
  private record Peer(String id, TestProbe<UserEntity.Command> probe) {
    String address() {
      return Ids.userConversation(id);
    }

    UserEntity.Deliver expectDeliver() {
      return probe.expectMessageClass(UserEntity.Deliver.class);
    }
  }

  private Peer peer(String name) {
    Peer peer = new Peer(name + "-" + peerIds.incrementAndGet(), testKit.createTestProbe());
    peerProbes.put(peer.id(), peer.probe().ref());
    return peer;
  }

  private Behavior<UserEntity.Command> peerStub(String userId) {
    return Behaviors.receiveMessage(
        command -> {
          ActorRef<UserEntity.Command> probe = peerProbes.get(userId);
          if (probe != null) {
            probe.tell(command);
          }
          return Behaviors.same();
        });
  }

  /** The test settings with a fast housekeeping tick (and restart backoff) and idle timeout. */
  /** A user entity of its own, sending to itself, whose next journal write fails. */
  private record FailingWrite(String pid, String self, TestProbe<Reply> replies, ActorRef<UserEntity.Command> entity) {
    void send(String clientMsgId) {
      entity.tell(UserEntityTest.send(clientMsgId, self, clientMsgId, replies.ref()));
    }

    void expectRefusedNotWritten() {
      assertEquals(new Reply.Rejection(ErrorCode.UNAVAILABLE, Request.NOT_WRITTEN), replies.receiveMessage(Duration.ofSeconds(3)));
    }

    /** Resends, as a client does, until the restarted entity accepts this one (earlier answers are skipped). */
    Reply.Accepted resendUntilAccepted(String clientMsgId) {
      return replies.awaitAssert(
          Duration.ofSeconds(5),
          () -> {
            send(clientMsgId);
            Reply.Accepted accepted = replies.expectMessageClass(Reply.Accepted.class, Duration.ofMillis(300));
            assertEquals(clientMsgId, accepted.clientMsgId());
            return accepted;
          });
    }
  }

  private FailingWrite entityWhoseNextWriteFails(String name, RouterSettings settings) {
    String user = name + "-" + peerIds.incrementAndGet();
    String pid = UserEntity.persistenceId(user).id();
    ActorRef<UserEntity.Command> entity = testKit.spawn(UserEntity.create(user, settings, sharding, null));
    alice.persistenceTestKit().failNextPersisted(pid);
    return new FailingWrite(pid, Ids.userConversation(user), testKit.createTestProbe(), entity);
  }

  private RouterSettings quick(Duration transferRetry, Duration passivateIdle) {
    return settings(
        Map.of(
            "router.entity.transfer-retry", transferRetry.toMillis() + "ms",
            "router.entity.passivate-idle", passivateIdle.toMillis() + "ms"));
  }

  private RouterSettings settings(Map<String, String> overrides) {
    return RouterSettings.fromConfig(ConfigFactory.parseMap(overrides).withFallback(testKit.system().settings().config()));
  }

  private static UserEntity.SendDirect send(String clientMsgId, String to, String text, ActorRef<Reply> replyTo) {
    return new UserEntity.SendDirect(clientMsgId, to, TEXT, text, new byte[] {1, 2}, replyTo);
  }

  private static UserEntity.SystemMessage system(String from, String key, String text, ActorRef<Reply> replyTo) {
    return new UserEntity.SystemMessage(from, key, TEXT, text, new byte[0], replyTo);
  }

  private static UserEntity.Deliver deliver(String from, long counter, String msgId, ActorRef<TransferAck> ackTo) {
    return new UserEntity.Deliver(from, counter, msgId, 1000 + counter, TEXT, "text " + msgId, new byte[0], ackTo);
  }

  private static UserEntity.MembershipNotice notice(String groupId, long counter, boolean member, ActorRef<TransferAck> ackTo) {
    return new UserEntity.MembershipNotice(groupId, counter, member, "owner", ackTo);
  }

  private static void assertDeliver(UserEntity.Deliver deliver, long counter, Reply.Accepted accepted, String text) {
    assertEquals(USER, deliver.from());
    assertEquals(counter, deliver.counter());
    assertEquals(accepted.msgId(), deliver.msgId());
    assertEquals(accepted.ts(), deliver.ts());
    assertEquals(text, deliver.text());
  }

  private static List<Long> counters(Vector<? extends Outbox.Pending<?>> pending) {
    return pending.map(p -> p.counter()).toJavaList();
  }

  private void assertReadRejected(String stream, long seq, ErrorCode code) {
    var result = alice.<Reply>runCommand(r -> new UserEntity.MarkRead(stream, seq, r));
    assertEquals(code, result.replyOfType(Reply.Rejection.class).code(), stream + "@" + seq);
    assertTrue(result.hasNoEvents());
  }

  private <R extends Reply> R sync(long afterSeq, int limit, Class<R> type) {
    var result = alice.<Reply>runCommand(r -> new UserEntity.Sync(afterSeq, limit, r));
    assertTrue(result.hasNoEvents());
    return result.replyOfType(type);
  }

  private <R extends UserEntity.ConnectResult> R connect(TestProbe<Push> session, Class<R> type) {
    UserEntity.ConnectResult result =
        alice.<UserEntity.ConnectResult>runCommand(r -> new UserEntity.Connect(session.ref(), r)).reply();
    assertInstanceOf(type, result);
    return type.cast(result);
  }

  /**
   * Lets every journal operation pass, but holds the recovery reads of one persistence id until
   * {@link #recoveryGate} opens and records the size of each of its atomic writes.
   */
  private static final class RecordingJournal implements ProcessingPolicy<JournalOperation> {
    final CountDownLatch recoveryGate = new CountDownLatch(1);
    final List<Integer> writeSizes = Collections.synchronizedList(new ArrayList<>());
    private final String persistenceId;

    RecordingJournal(String persistenceId) {
      this.persistenceId = persistenceId;
    }

    @Override
    public ProcessingResult tryProcess(String pid, JournalOperation operation) {
      if (pid.equals(persistenceId)) {
        if (operation instanceof WriteEvents write) {
          writeSizes.add(write.getBatch().size());
        } else {
          awaitGate();
        }
      }
      return ProcessingSuccess.getInstance();
    }

    private void awaitGate() {
      try {
        if (!recoveryGate.await(GATE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new IllegalStateException("recovery gate never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /** The state with its recent items set aside: snapshots leave them out (docs/decisions/0007). */
  public static UserEntity.State recentAside(UserEntity.State s) {
    return new UserEntity.State(
        s.userId(), s.lastSeq(), RecentItems.empty(s.recent().capacity()), s.dedup(), s.outbox(), s.received(), s.groups(),
        s.cursors());
  }

}
