package org.imrouter.node.group;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.vavr.collection.Vector;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.testkit.SnapshotMeta;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.persist.GroupCreated;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.GroupSnapshot;
import org.imrouter.protocol.persist.MemberSnapshot;
import org.imrouter.protocol.persist.MembersChanged;
import org.imrouter.protocol.persist.Posted;
import org.imrouter.protocol.persist.Role;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link GroupEntity} on the in-memory journal and snapshot store: membership and its authority
 * rules, posts with dedup and gap-free seqs, sync, the per-node feed, the membership-notice
 * outbox, and recovery from events and from snapshots.
 *
 * <p>The node is a cluster of one. The "User" entity type is sharded as a stub that forwards
 * whatever it gets to the probe of that user id, so the membership notices the group sends can be
 * asserted and acked by hand. Users get a fresh id per test, so a notice still in flight from an
 * earlier test never lands on a later test's probe.
 *
 * <p>The entity batches writes (a self-sent flush writes what was buffered) and replies once the
 * write is durable, so {@code runCommand} with a reply function sees the reply, the events and the
 * new state together.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestKitJUnit5Extension.class)
public class GroupEntityTest {
  private static final String GROUP = "g1";
  private static final String STREAM = "group:g1";
  private static final String PID = GroupEntity.persistenceId(GROUP).id();
  private static final Duration SHARDING_START = Duration.ofSeconds(15);

  @JUnit5TestKit
  final ActorTestKit testKit =
      new JUnit5TestKitBuilder()
          .withName("GroupEntityTest")
          .withCustomConfig(EventSourcedBehaviorTestKit.config().withFallback(ConfigFactory.load("entity-test")))
          .build();

  private final RouterSettings settings = RouterSettings.fromConfig(testKit.system().settings().config());
  private final Map<String, ActorRef<UserEntity.Command>> inboxes = new ConcurrentHashMap<>();
  private final AtomicInteger userIds = new AtomicInteger();
  private ClusterSharding sharding;
  private EventSourcedBehaviorTestKit<GroupEntity.Command, GroupEvent, GroupEntity.State> group;

  @BeforeAll
  void startClusterOfOne() {
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    testKit.createTestProbe().awaitAssert(() -> {
      assertEquals(MemberStatus.up(), cluster.selfMember().status());
      return null;
    });
    sharding = ClusterSharding.get(testKit.system());
    sharding.init(Entity.of(UserEntity.ENTITY_TYPE_KEY, ctx -> inboxStub(ctx.getEntityId())));
    // the region buffers until it has registered with the coordinator: wait for that once here
    User first = user("first");
    sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, first.id()).tell(new UserEntity.TypingFrom("first"));
    first.inbox().expectMessage(SHARDING_START, new UserEntity.TypingFrom("first"));
    // Only events are checked: commands and replies are messages, not stored data (their wire
    // format is tested apart), and the State is never serialized as such: GroupSnapshots turns it
    // into a GroupSnapshot first (PersistenceSerializationTest round-trips that).
    group =
        EventSourcedBehaviorTestKit.create(
            testKit.system(),
            GroupEntity.create(GROUP, settings, sharding, null),
            EventSourcedBehaviorTestKit.enabledSerializationSettings()
                .withVerifyEquality(true)
                .withVerifyCommands(false)
                .withVerifyState(false));
  }

  @BeforeEach
  void clear() {
    group.clear();
  }

  // ------------------------------------------------------------------ create

  @Test
  void createMakesTheActorOwnerAndTellsEveryMember() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");

    var created = group.<Reply>runCommand(r -> new GroupEntity.Create(owner.id, "Team", List.of(bob.id, carol.id), r));

    assertEquals(new Reply.Done(), created.reply());
    GroupCreated event = created.event().getCreated();
    assertEquals(owner.id, event.getOwner());
    assertEquals("Team", event.getTitle());
    assertEquals(List.of(bob.id, carol.id), event.getMembersList());
    GroupEntity.State state = created.state();
    assertTrue(state.created());
    assertEquals("Team", state.title());
    assertEquals(1, state.lastSeq());
    assertEquals(List.of(owner.id, bob.id, carol.id), state.members().keySet().toJavaList());
    assertEquals(Role.OWNER, state.roleOf(owner.id));
    assertEquals(Role.MEMBER, state.roleOf(bob.id));
    for (User u : List.of(owner, bob, carol)) {
      assertNotice(u.expectNotice(), 1, true, owner.id);
    }
  }

  @Test
  void theOwnerListedAmongTheMembersIsOwnerOnce() {
    User owner = user("owner");
    User bob = user("bob");

    var created = group.<Reply>runCommand(r -> new GroupEntity.Create(owner.id, "", List.of(bob.id, owner.id, bob.id), r));

    assertEquals(List.of(bob.id), created.event().getCreated().getMembersList());
    assertEquals(Map.of(owner.id, Role.OWNER, bob.id, Role.MEMBER), created.state().members().toJavaMap());
    assertNotice(owner.expectNotice(), 1, true, owner.id);
    assertNotice(bob.expectNotice(), 1, true, owner.id);
    owner.inbox.expectNoMessage();
  }

  @Test
  void createIsRefusedForAnExistingGroupTooManyMembersOrAnInvalidId() {
    String owner = "owner";
    assertRejected(r -> new GroupEntity.Create(owner, "", List.of("a", "b", "c", "d"), r), ErrorCode.TOO_LARGE);
    for (String invalid : List.of("bad id", "", "user:x", "x".repeat(65))) {
      assertRejected(r -> new GroupEntity.Create(owner, "", List.of("a", invalid), r), ErrorCode.BAD_FRAME);
    }
    assertEquals(0, group.getState().lastSeq());

    // owner included, group-size members fit
    assertEquals(new Reply.Done(), group.<Reply>runCommand(r -> new GroupEntity.Create(owner, "", List.of("a", "b", "c"), r)).reply());
    assertRejected(r -> new GroupEntity.Create(owner, "again", List.of(), r), ErrorCode.ALREADY_EXISTS);
    assertRejected(r -> new GroupEntity.Create("a", "mine", List.of(), r), ErrorCode.ALREADY_EXISTS);
    assertEquals("", group.getState().title());
    assertEquals(1, group.getState().lastSeq());
  }

  // ------------------------------------------------------------------ membership

  @Test
  void nothingButCreateWorksOnAGroupThatDoesNotExist() {
    assertRejected(r -> new GroupEntity.AddMembers("owner", List.of("bob"), r), ErrorCode.NOT_FOUND);
    assertRejected(r -> new GroupEntity.RemoveMembers("owner", List.of("bob"), r), ErrorCode.NOT_FOUND);
    assertRejected(r -> new GroupEntity.Leave("owner", r), ErrorCode.NOT_FOUND);
    assertRejected(r -> post("owner", "c1", "hi", r), ErrorCode.NOT_FOUND);
    assertRejected(r -> new GroupEntity.Sync("owner", 0, 10, r), ErrorCode.NOT_FOUND);
  }

  @Test
  void onlyOwnersAndAdminsChangeMembership() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob);

    assertRejected(r -> new GroupEntity.AddMembers(bob.id, List.of(carol.id), r), ErrorCode.FORBIDDEN);
    assertRejected(r -> new GroupEntity.RemoveMembers(bob.id, List.of(owner.id), r), ErrorCode.FORBIDDEN);
    assertRejected(r -> new GroupEntity.AddMembers(carol.id, List.of(carol.id), r), ErrorCode.NOT_A_MEMBER);
    assertRejected(r -> new GroupEntity.RemoveMembers(carol.id, List.of(bob.id), r), ErrorCode.NOT_A_MEMBER);
    assertRejected(r -> new GroupEntity.RemoveMembers(owner.id, List.of(owner.id, bob.id), r), ErrorCode.FORBIDDEN);
    assertRejected(r -> new GroupEntity.AddMembers(owner.id, List.of("bad id"), r), ErrorCode.BAD_FRAME);
    assertRejected(r -> new GroupEntity.AddMembers(owner.id, List.of("a", "b", "c"), r), ErrorCode.TOO_LARGE);
    assertEquals(1, group.getState().lastSeq());

    var added = group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(carol.id, bob.id, carol.id), r));
    assertEquals(new Reply.Done(), added.reply());
    MembersChanged change = added.event().getMembersAdded();
    assertEquals(owner.id, change.getActor());
    assertEquals(List.of(carol.id), change.getMembersList());
    assertEquals(Role.MEMBER, added.state().roleOf(carol.id));
    assertNotice(carol.expectNotice(), 1, true, owner.id);

    // nothing to change: done, and nothing written
    var noop = group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(bob.id), r));
    assertEquals(new Reply.Done(), noop.reply());
    assertTrue(noop.hasNoEvents());
    var noopRemove = group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of("stranger"), r));
    assertEquals(new Reply.Done(), noopRemove.reply());
    assertTrue(noopRemove.hasNoEvents());

    var removed = group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(bob.id), r));
    assertEquals(new Reply.Done(), removed.reply());
    assertEquals(List.of(bob.id), removed.event().getMembersRemoved().getMembersList());
    assertFalse(removed.state().isMember(bob.id));
    assertNotice(bob.expectNotice(), 2, false, owner.id);
    owner.inbox.expectNoMessage();
  }

  @Test
  void anAdminManagesMembersButCannotRemoveTheOwner() {
    // no command grants the admin role yet: start the group from a snapshot that has one
    GroupEvent created =
        GroupEvent.newBuilder()
            .setTs(1)
            .setCreated(GroupCreated.newBuilder().setOwner("owner").addMembers("admin"))
            .build();
    GroupSnapshot snapshot =
        GroupSnapshot.newBuilder()
            .setLastSeq(1)
            .setCreated(true)
            .addMembers(MemberSnapshot.newBuilder().setUser("owner").setRole(Role.OWNER))
            .addMembers(MemberSnapshot.newBuilder().setUser("admin").setRole(Role.ADMIN))
            .build();
    group.persistenceTestKit().persistForRecovery(PID, List.<Object>of(created));
    group.snapshotTestKit().orElseThrow().persistForRecovery(PID, List.of(Pair.<SnapshotMeta, Object>create(SnapshotMeta.create(1), snapshot)));
    assertEquals(Role.ADMIN, group.restart().state().roleOf("admin"));

    assertEquals(new Reply.Done(), group.<Reply>runCommand(r -> new GroupEntity.AddMembers("admin", List.of("dave"), r)).reply());
    assertRejected(r -> new GroupEntity.RemoveMembers("admin", List.of("owner"), r), ErrorCode.FORBIDDEN);
    var removed = group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers("admin", List.of("dave"), r));
    assertEquals(new Reply.Done(), removed.reply());
    assertEquals(3, removed.state().lastSeq());
  }

  @Test
  void membersLeaveButTheOwnerOnlyLast() {
    User owner = user("owner");
    User bob = user("bob");
    create(owner, bob);

    assertRejected(r -> new GroupEntity.Leave(owner.id, r), ErrorCode.FORBIDDEN);
    assertRejected(r -> new GroupEntity.Leave("stranger", r), ErrorCode.NOT_A_MEMBER);

    var left = group.<Reply>runCommand(r -> new GroupEntity.Leave(bob.id, r));
    assertEquals(new Reply.Done(), left.reply());
    MembersChanged change = left.event().getMemberLeft();
    assertEquals(bob.id, change.getActor());
    assertEquals(List.of(bob.id), change.getMembersList());
    assertNotice(bob.expectNotice(), 2, false, bob.id);
    assertRejected(r -> new GroupEntity.Leave(bob.id, r), ErrorCode.NOT_A_MEMBER);

    var ownerLeft = group.<Reply>runCommand(r -> new GroupEntity.Leave(owner.id, r));
    assertEquals(new Reply.Done(), ownerLeft.reply());
    assertTrue(ownerLeft.state().members().isEmpty());
    assertNotice(owner.expectNotice(), 2, false, owner.id);
  }

  // ------------------------------------------------------------------ posts

  @Test
  void membersPostWithGapFreeSeqsAndDedupPerSenderAndClientMsgId() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob, carol);

    Reply.Accepted first = accepted(post(bob.id, "k1", "hello"));
    var retry = group.<Reply>runCommand(r -> post(bob.id, "k1", "hello again", r));
    assertEquals(first, retry.reply());
    assertTrue(retry.hasNoEvents());
    // the same clientMsgId from someone else is someone else's message
    Reply.Accepted fromCarol = accepted(post(carol.id, "k1", "mine"));
    group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(carol.id), r));
    Reply.Accepted second = accepted(post(bob.id, "k2", "bye"));

    assertEquals(List.of(2L, 3L, 5L), List.of(first.seq(), fromCarol.seq(), second.seq()));
    assertEquals(STREAM, first.stream());
    assertEquals("k1", first.clientMsgId());
    // every event is one item: seq = persistence sequence number
    List<Object> journal = group.persistenceTestKit().persistedInStorage(PID);
    assertEquals(5, journal.size());
    Posted posted = ((GroupEvent) journal.get((int) first.seq() - 1)).getPosted();
    assertEquals(first.msgId(), posted.getMsgId());
    assertEquals(bob.id, posted.getFrom());
    assertEquals("hello", posted.getText());
    assertEquals(second.msgId(), ((GroupEvent) journal.get(4)).getPosted().getMsgId());

    assertRejected(r -> post(carol.id, "k3", "still here?", r), ErrorCode.NOT_A_MEMBER);
    assertRejected(r -> post("stranger", "k1", "hi", r), ErrorCode.NOT_A_MEMBER);
    assertEquals(5, group.getState().lastSeq());
  }

  @Test
  void aBackendActsAsSystemWithoutBeingAMember() {
    User owner = user("owner");
    User dave = user("dave");
    create(owner);

    Reply.Accepted accepted = accepted(post("system:bot", "k1", "announcement"));
    assertEquals(2, accepted.seq());
    assertEquals(new Reply.Done(), group.<Reply>runCommand(r -> new GroupEntity.AddMembers("system:bot", List.of(dave.id), r)).reply());
    assertNotice(dave.expectNotice(), 1, true, "system:bot");
    assertEquals(3, sync("system:bot", 0, 10, Reply.HistoryPage.class).items().size());
    assertFalse(group.getState().isMember("system:bot"));
  }

  // ------------------------------------------------------------------ sync

  @Test
  void syncIsForMembersAndServesRecentItemsFromMemory() {
    User owner = user("owner");
    User bob = user("bob");
    GroupEvent created = create(owner, bob);
    accepted(post(bob.id, "k1", "one"));
    accepted(post(owner.id, "k2", "two"));
    List<Object> journal = group.persistenceTestKit().persistedInStorage(PID);

    assertRejected(r -> new GroupEntity.Sync("stranger", 0, 10, r), ErrorCode.NOT_A_MEMBER);

    Reply.HistoryPage all = sync(bob.id, 0, 10, Reply.HistoryPage.class);
    assertEquals(STREAM, all.stream());
    assertEquals(
        List.of(
            new StreamItem.Group(GROUP, 1, created),
            new StreamItem.Group(GROUP, 2, (GroupEvent) journal.get(1)),
            new StreamItem.Group(GROUP, 3, (GroupEvent) journal.get(2))),
        all.items());
    assertFalse(all.hasMore());

    Reply.HistoryPage page = sync(bob.id, 1, 1, Reply.HistoryPage.class);
    assertEquals(List.of(2L), page.items().stream().map(StreamItem::seq).toList());
    assertTrue(page.hasMore());
  }

  @Test
  void syncPointsIntoTheJournalWhenItReachesPastTheRecentItems() {
    User owner = user("owner");
    create(owner);
    int recent = settings.entity().recentItems();
    int total = recent + 2;
    for (int i = 2; i <= total; i++) {
      accepted(post(owner.id, "k" + i, "text " + i));
    }

    assertEquals(new Reply.HistoryInJournal(STREAM, GROUP, PID, 1, total, false, List.of()), sync(owner.id, 0, 100, Reply.HistoryInJournal.class));
    assertEquals(new Reply.HistoryInJournal(STREAM, GROUP, PID, 2, 4, true, List.of()), sync(owner.id, 1, 3, Reply.HistoryInJournal.class));
    Reply.HistoryPage page = sync(owner.id, total - recent, 100, Reply.HistoryPage.class);
    assertEquals(recent, page.items().size());
    assertEquals(total - recent + 1, page.items().get(0).seq());
  }

  // ------------------------------------------------------------------ feed

  @Test
  void aWatchingGatewayGetsEveryNewItemInOrderAndLearnsWhoOfItsUsersAreMembers() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob);
    TestProbe<GroupEntity.Feed> gateway = testKit.createTestProbe();

    group.runCommand(new GroupEntity.Watch(gateway.ref(), Set.of(bob.id, carol.id, "stranger")));
    assertWatching(gateway.expectMessageClass(GroupEntity.Watching.class), 1, Set.of(bob.id));

    List<Long> seqs = new ArrayList<>();
    seqs.add(accepted(post(bob.id, "k1", "hi")).seq());
    group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(carol.id), r));
    seqs.add(3L);
    seqs.add(accepted(post(carol.id, "k1", "hello")).seq());
    group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(bob.id), r));
    seqs.add(5L);
    group.runCommand(new GroupEntity.TypingFrom(carol.id));
    group.runCommand(new GroupEntity.TypingFrom(bob.id)); // no longer a member: not fanned out

    List<Object> journal = group.persistenceTestKit().persistedInStorage(PID);
    for (long seq : seqs) {
      GroupEntity.FeedItem item = gateway.expectMessageClass(GroupEntity.FeedItem.class);
      assertEquals(new StreamItem.Group(GROUP, seq, (GroupEvent) journal.get((int) seq - 1)), item.item());
    }
    gateway.expectMessage(new GroupEntity.FeedTyping(GROUP, carol.id));
    gateway.expectNoMessage();

    // a removed member is no longer among the members a later watch reports
    group.runCommand(new GroupEntity.Watch(gateway.ref(), Set.of(bob.id, carol.id)));
    assertWatching(gateway.expectMessageClass(GroupEntity.Watching.class), 5, Set.of(carol.id));

    group.runCommand(new GroupEntity.Unwatch(gateway.ref()));
    accepted(post(carol.id, "k2", "anyone?"));
    gateway.expectNoMessage();
  }

  // ------------------------------------------------------------------ membership notices

  @Test
  void everyAffectedUserHasAPendingNoticeUntilItIsAcked() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob, carol);
    GroupEntity.Notice joined = new GroupEntity.Notice(true, owner.id);
    Outbox<GroupEntity.Notice> outbox = group.getState().outbox();
    for (User u : List.of(owner, bob, carol)) {
      assertEquals(Vector.of(new Outbox.Pending<>(1, 1, joined)), outbox.unacked(u.id, 0));
    }

    ack(bob, 1, false);
    // acks are not events: the outbox shrinks with the next event
    var posted = group.<Reply>runCommand(r -> post(owner.id, "k1", "hi", r));
    assertEquals(Set.of(owner.id, carol.id), posted.state().outbox().pending().keySet().toJavaSet());

    ack(owner, 1, false);
    ack(carol, 1, false);
    var removed = group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(carol.id), r));
    assertEquals(Set.of(carol.id), removed.state().outbox().pending().keySet().toJavaSet());
    assertEquals(
        Vector.of(new Outbox.Pending<>(2, 3, new GroupEntity.Notice(false, owner.id))),
        removed.state().outbox().unacked(carol.id, 0));
    assertNotice(carol.expectNotice(), 2, false, owner.id);
  }

  @Test
  void aBehindAckResendsTheNoticesFromTheGapOnce() {
    User owner = user("owner");
    User bob = user("bob");
    create(owner, bob);
    group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(bob.id), r));
    group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(bob.id), r));
    UserEntity.MembershipNotice removal = bob.expectNotice();
    assertNotice(bob.expectNotice(), 3, true, owner.id);

    // bob's inbox has 1 and was offered something later: 2 and 3 were lost on the way
    removal.ackTo().tell(new TransferAck(bob.id, 1, true));
    assertNotice(bob.expectNotice(), 2, false, owner.id);
    assertNotice(bob.expectNotice(), 3, true, owner.id);
    // the same gap reported again is not resent twice
    removal.ackTo().tell(new TransferAck(bob.id, 1, true));
    bob.inbox.expectNoMessage();
  }

  @Test
  void unconfirmedNoticesAreResentAfterRecovery() {
    User owner = user("owner");
    User bob = user("bob");
    create(owner, bob);
    ack(owner, 1, false);

    group.restart();

    // acks are not journaled: both go out again, and the receivers drop what they have
    assertNotice(owner.expectNotice(), 1, true, owner.id);
    assertNotice(bob.expectNotice(), 1, true, owner.id);
  }

  // ------------------------------------------------------------------ recovery

  @Test
  void restartRecoversTheSameStateAndBehaviour() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob);
    Reply.Accepted accepted = accepted(post(bob.id, "k1", "hi"));
    group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(carol.id), r));
    group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(bob.id), r));
    carol.expectNotice();
    bob.expectNotice();
    GroupEntity.State before = group.getState();

    GroupEntity.State after = group.restart().state();

    assertEquals(recentAside(before), recentAside(after));
    // the recent items are the events replayed after the snapshot of seq 3
    assertEquals(List.of(4L), after.recent().items().map(StreamItem::seq).toJavaList());
    assertEquals(4, after.lastSeq());
    assertEquals(List.of(owner.id, carol.id), after.members().keySet().toJavaList());
    assertSameBehaviourAfterRecovery(owner, bob, carol, accepted, 5, List.of(1L, 2L));
  }

  @Test
  void recoveryFromASnapshotAloneGivesTheSameStateAndBehaviour() {
    User owner = user("owner");
    User bob = user("bob");
    User carol = user("carol");
    create(owner, bob);
    Reply.Accepted accepted = accepted(post(bob.id, "k1", "hi"));
    group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(carol.id), r));
    group.<Reply>runCommand(r -> new GroupEntity.RemoveMembers(owner.id, List.of(bob.id), r));
    carol.expectNotice();
    bob.expectNotice();
    ack(bob, 2, false);
    // from this event on, bob's notice counter is in no pending notice, only in the counters
    accepted(post(carol.id, "k1", "hello"));
    accepted(post(owner.id, "", "no key"));
    GroupEntity.State before = group.getState();
    var snapshots = group.snapshotTestKit().orElseThrow();
    assertEquals(3, snapshots.expectNextPersistedClass(PID, GroupSnapshot.class).getLastSeq());
    assertEquals(6, snapshots.expectNextPersistedClass(PID, GroupSnapshot.class).getLastSeq());

    // no events left to replay: whatever the state is now came through GroupSnapshots
    group.persistenceTestKit().clearByIdPreservingSeqNumbers(PID);
    GroupEntity.State after = group.restart().state();

    assertEquals(recentAside(before), after); // nothing replayed: no recent items

    assertEquals(6, after.lastSeq());
    assertEquals(Role.OWNER, after.roleOf(owner.id));
    assertTrue(after.outbox().unacked(bob.id, 0).isEmpty());
    assertSameBehaviourAfterRecovery(owner, bob, carol, accepted, 7, List.of());
  }

  /**
   * What recovery must have kept, seen from outside: dedup, notice counters, the outbox (owner's
   * and carol's notices were never acked; {@code bobResent} is what bob's inbox did not confirm).
   */
  private void assertSameBehaviourAfterRecovery(
      User owner, User bob, User carol, Reply.Accepted accepted, long nextSeq, List<Long> bobResent) {
    // what is unconfirmed is resent, in order
    assertEquals(List.of(1L), counters(owner.drainNotices(1)));
    assertEquals(bobResent, counters(bob.drainNotices(bobResent.size())));
    assertEquals(List.of(1L), counters(carol.drainNotices(1)));

    var again = group.<Reply>runCommand(r -> post(bob.id, "k1", "hi", r));
    assertEquals(ErrorCode.NOT_A_MEMBER, again.replyOfType(Reply.Rejection.class).code());
    group.<Reply>runCommand(r -> new GroupEntity.AddMembers(owner.id, List.of(bob.id), r));
    var retry = group.<Reply>runCommand(r -> post(bob.id, "k1", "hi", r));
    assertEquals(accepted, retry.reply());
    assertTrue(retry.hasNoEvents());
    assertNotice(bob.expectNotice(), 3, true, owner.id);
    assertEquals(nextSeq, group.getState().lastSeq());
  }

  // ------------------------------------------------------------------ housekeeping

  @Test
  void unackedNoticesAreResentOnTheTickAndTheGroupPassivatesOnlyOnceTheyAreAcked() {
    Duration retry = Duration.ofMillis(50);
    Duration idle = Duration.ofMillis(100);
    String groupId = "idle-" + userIds.incrementAndGet();
    User owner = user("owner");
    TestProbe<ClusterSharding.ShardCommand> shard = testKit.createTestProbe();
    TestProbe<Reply> replies = testKit.createTestProbe();
    ActorRef<GroupEntity.Command> entity = testKit.spawn(GroupEntity.create(groupId, quick(retry, idle), sharding, shard.ref()));

    entity.tell(new GroupEntity.Create(owner.id, "", List.of(), replies.ref()));
    replies.expectMessage(new Reply.Done());
    UserEntity.MembershipNotice first = owner.expectNotice();
    // no ack: resent after the retry interval, and the group stays
    assertEquals(1, owner.expectNotice().counter());
    shard.expectNoMessage(idle.multipliedBy(3));

    first.ackTo().tell(new TransferAck(owner.id, 1, false));
    shard.expectMessage(new ClusterSharding.Passivate<>(entity));
    testKit.stop(entity);
  }

  @Test
  void theHandOffStopWritesAndAnswersWhatIsBufferedFirst() {
    String groupId = "handoff-" + userIds.incrementAndGet();
    User owner = user("owner");
    TestProbe<Reply> replies = testKit.createTestProbe();
    ActorRef<GroupEntity.Command> entity = testKit.spawn(GroupEntity.create(groupId, settings, sharding, null));

    // sharding's stop right behind a create: the create is buffered, its flush queued after the stop
    entity.tell(new GroupEntity.Create(owner.id, "", List.of(), replies.ref()));
    entity.tell(GroupEntity.Stop.INSTANCE);

    replies.expectMessage(new Reply.Done());
    replies.expectTerminated(entity);
    assertEquals(1, group.persistenceTestKit().persistedInStorage(GroupEntity.persistenceId(groupId).id()).size());
  }

  // ------------------------------------------------------------------ helpers

  /** A user whose inbox is a probe: its sharded "User" entity forwards everything there. */
  private record User(String id, TestProbe<UserEntity.Command> inbox) {
    UserEntity.MembershipNotice expectNotice() {
      return inbox.expectMessageClass(UserEntity.MembershipNotice.class);
    }

    List<UserEntity.MembershipNotice> drainNotices(int n) {
      List<UserEntity.MembershipNotice> notices = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        notices.add(expectNotice());
      }
      inbox.expectNoMessage();
      return notices;
    }
  }

  private User user(String name) {
    User user = new User(name + "-" + userIds.incrementAndGet(), testKit.createTestProbe());
    inboxes.put(user.id(), user.inbox().ref());
    return user;
  }

  private Behavior<UserEntity.Command> inboxStub(String userId) {
    return Behaviors.receiveMessage(
        command -> {
          ActorRef<UserEntity.Command> inbox = inboxes.get(userId);
          if (inbox != null) {
            inbox.tell(command);
          }
          return Behaviors.same();
        });
  }

  /**
   * Creates the group owned by {@code owner} with {@code members} and takes the notice of it from
   * each of their inboxes; returns the event.
   */
  private GroupEvent create(User owner, User... members) {
    List<String> ids = Arrays.stream(members).map(User::id).toList();
    var result = group.<Reply>runCommand(r -> new GroupEntity.Create(owner.id, "Team", ids, r));
    assertEquals(new Reply.Done(), result.reply());
    assertNotice(owner.expectNotice(), 1, true, owner.id);
    for (User member : members) {
      assertNotice(member.expectNotice(), 1, true, owner.id);
    }
    return result.event();
  }

  /** {@code user}'s inbox confirms it has stored the group's notices up to {@code counter}. */
  private void ack(User user, long counter, boolean behind) {
    group.runCommand(new GroupEntity.NoticeAcked(new TransferAck(user.id, counter, behind)));
  }

  private static GroupEntity.Post post(String from, String clientMsgId, String text, ActorRef<Reply> replyTo) {
    return new GroupEntity.Post(from, clientMsgId, "text/plain", text, new byte[] {7}, replyTo);
  }

  private interface PostOf {
    GroupEntity.Post to(ActorRef<Reply> replyTo);
  }

  private static PostOf post(String from, String clientMsgId, String text) {
    return replyTo -> post(from, clientMsgId, text, replyTo);
  }

  /** Runs the post; asserts it was accepted as exactly one new item. */
  private Reply.Accepted accepted(PostOf post) {
    var result = group.<Reply>runCommand(post::to);
    Reply.Accepted accepted = result.replyOfType(Reply.Accepted.class);
    assertEquals(1, result.events().size());
    assertEquals(accepted.seq(), result.state().lastSeq());
    assertEquals(accepted.msgId(), result.event().getPosted().getMsgId());
    return accepted;
  }

  private void assertRejected(Function<ActorRef<Reply>, GroupEntity.Command> command, ErrorCode code) {
    var result = group.runCommand(command);
    assertEquals(code, result.replyOfType(Reply.Rejection.class).code());
    assertTrue(result.hasNoEvents());
  }

  private <R extends Reply> R sync(String user, long afterSeq, int limit, Class<R> type) {
    var result = group.<Reply>runCommand(r -> new GroupEntity.Sync(user, afterSeq, limit, r));
    assertTrue(result.hasNoEvents());
    return result.replyOfType(type);
  }

  private static void assertNotice(UserEntity.MembershipNotice notice, long counter, boolean member, String actor) {
    assertEquals(GROUP, notice.groupId());
    assertEquals(counter, notice.counter());
    assertEquals(member, notice.member());
    assertEquals(actor, notice.actor());
  }

  private static void assertWatching(GroupEntity.Watching watching, long lastSeq, Set<String> members) {
    assertEquals(GROUP, watching.groupId());
    assertEquals(lastSeq, watching.lastSeq());
    assertEquals(members, watching.members());
  }

  private static List<Long> counters(List<UserEntity.MembershipNotice> notices) {
    return notices.stream().map(UserEntity.MembershipNotice::counter).toList();
  }

  /** The test settings with a fast housekeeping tick (and restart backoff) and idle timeout. */
  private RouterSettings quick(Duration transferRetry, Duration passivateIdle) {
    return RouterSettings.fromConfig(
        ConfigFactory.parseMap(
                Map.of(
                    "router.entity.transfer-retry", transferRetry.toMillis() + "ms",
                    "router.entity.passivate-idle", passivateIdle.toMillis() + "ms"))
            .withFallback(testKit.system().settings().config()));
  }

  /** The state with its recent items set aside: snapshots leave them out (docs/decisions/0007). */
  public static GroupEntity.State recentAside(GroupEntity.State s) {
    return new GroupEntity.State(
        s.groupId(), s.created(), s.title(), s.lastSeq(), s.members(), s.periods(), RecentItems.empty(s.recent().capacity()),
        s.dedup(), s.outbox());
  }

}
