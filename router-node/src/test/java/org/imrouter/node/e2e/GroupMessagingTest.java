package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetShardRegionState;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.AddMembers;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.CreateGroup;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.LeaveGroup;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.RemoveMembers;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.Sync;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Group messaging end to end over real WebSockets against a node on the real Cassandra: creation
 * and membership notices, fan-out to every device of every online member, gap-free seqs and FIFO
 * per sender under concurrent posters, idempotent posts, membership changes taking effect at the
 * {@code result} (added members get later posts, removed and departed members get none), the
 * authority and validation errors of DESIGN §3.6/§4, history paging through the journal, restart.
 *
 * <p>"Did not receive" is proven with a barrier, never a clock: once another member on the same
 * node got post P, a ping/pong round trip on the other connection shows everything the server
 * queued for it before the pong, and P is not among it.
 */
class GroupMessagingTest {
  /** Small, so that group history paging reaches past the in-memory window into the journal. */
  private static final int RECENT_ITEMS = 3;
  /** Members per group, owner included: small, so that TOO_LARGE is reachable. */
  private static final int GROUP_SIZE = 4;
  /** Small, so that the restart recovers groups from snapshots, not only by replaying events. */
  private static final int SNAPSHOT_EVERY = 4;

  private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "group_messaging",
            Map.of(
                "router.entity.recent-items", RECENT_ITEMS,
                "router.limits.group-size", GROUP_SIZE,
                "router.entity.snapshot-every", SNAPSHOT_EVERY));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  // ------------------------------------------------------------------ creation

  @Test
  void createGroupMakesTheCreatorOwnerAndNotifiesEveryMember() {
    String g = "cg-team";
    try (WsClient alice = connect("cg-alice"); WsClient bob = connect("cg-bob"); WsClient carol = connect("cg-carol")) {
      createGroup(alice, "r1", g, "Team", "cg-bob", "cg-carol"); // the creator is not listed
      expectResult(alice, "r1");

      for (WsClient member : List.of(alice, bob, carol)) {
        SystemItem added = expectAddedTo(member, g);
        assertEquals("inbox", added.getStream());
        assertEquals("cg-alice", added.getActor());
      }

      // the unlisted creator is a member: it posts, and the post is item 2 after CREATED
      post(alice, "c1", g, "welcome all");
      Accepted accepted = alice.expectAccepted("c1").getAccepted();
      assertEquals(stream(g), accepted.getStream());
      assertEquals(2, accepted.getSeq());

      History h = sync(bob, stream(g), 0, 100);
      assertEquals(2, h.getItemsCount());
      assertFalse(h.getHasMore());
      SystemItem created = h.getItems(0).getSystem();
      assertEquals(SystemKind.CREATED, created.getKind());
      assertEquals(1, created.getSeq());
      assertEquals(stream(g), created.getStream());
      assertEquals("Team", created.getTitle());
      assertEquals("cg-alice", created.getActor(), "the creator is the owner");
      assertEquals(List.of("cg-bob", "cg-carol"), created.getMembersList());
      assertEquals(accepted.getMsgId(), h.getItems(1).getMessage().getMsgId());
    }

    // (re)connecting members, creator included, find the group in welcome with its lastSeq
    for (String user : List.of("cg-alice", "cg-bob", "cg-carol")) {
      try (WsClient again = WsClient.connect(node.wsUri(Tokens.valid(user)))) {
        StreamInfo info = streamInfo(again.welcome(), stream(g)).orElseThrow(() -> new AssertionError(user + " misses " + g));
        assertEquals(2, info.getLastSeq());
      }
    }
    try (WsClient outsider = WsClient.connect(node.wsUri(Tokens.valid("cg-dave")))) {
      assertTrue(streamInfo(outsider.welcome(), stream(g)).isEmpty(), "a non-member's welcome does not list the group");
    }
  }

  // ------------------------------------------------------------------ posts

  @Test
  void aPostReachesEveryDeviceOfEveryOnlineMember() {
    String g = "fan-g";
    try (WsClient alicePhone = connect("fan-alice");
        WsClient aliceLaptop = connect("fan-alice");
        WsClient bobPhone = connect("fan-bob");
        WsClient bobLaptop = connect("fan-bob");
        WsClient carol = connect("fan-carol");
        WsClient dave = connect("fan-dave")) {
      List<WsClient> devices = List.of(alicePhone, aliceLaptop, bobPhone, bobLaptop, carol);
      createGroup(alicePhone, "r1", g, "Fan", "fan-bob", "fan-carol");
      expectResult(alicePhone, "r1");
      devices.forEach(d -> expectAddedTo(d, g)); // every device of every member gets the inbox item

      post(alicePhone, "p1", g, "to everyone");
      Accepted accepted = alicePhone.expectAccepted("p1").getAccepted();
      assertEquals(stream(g), accepted.getStream());
      assertEquals(2, accepted.getSeq());
      for (WsClient device : devices) {
        Message m = expectPost(device, g, "to everyone");
        assertEquals(accepted.getMsgId(), m.getMsgId());
        assertEquals(accepted.getSeq(), m.getSeq());
        assertEquals(stream(g), m.getStream());
        assertEquals(stream(g), m.getConversation());
        assertEquals("fan-alice", m.getFrom());
        assertEquals(accepted.getTs(), m.getTs());
      }
      dave.roundTrip(1);
      assertNoPostOf(dave, g, "a non-member online on the same node");

      // a device that connects later finds the group in welcome and gets the next post, payload intact
      try (WsClient bobTablet = WsClient.connect(node.wsUri(Tokens.valid("fan-bob")))) {
        assertEquals(2, streamInfo(bobTablet.welcome(), stream(g)).orElseThrow().getLastSeq());
        ByteString payload = ByteString.copyFromUtf8("{\"url\":\"https://files.example/x.png\"}");
        send(carol, ClientFrame.newBuilder()
            .setSend(Send.newBuilder().setClientMsgId("p2").setTo(stream(g)).setContentType("image/png").setPayload(payload))
            .build());
        Accepted second = carol.expectAccepted("p2").getAccepted();
        assertEquals(3, second.getSeq());
        for (WsClient device : List.of(alicePhone, aliceLaptop, bobPhone, bobLaptop, carol, bobTablet)) {
          Message m = device.expect(f -> f.hasMessage() && f.getMessage().getSeq() == 3, "seq 3 on every device").getMessage();
          assertEquals(second.getMsgId(), m.getMsgId());
          assertEquals("image/png", m.getContentType());
          assertEquals(payload, m.getPayload());
          assertEquals("fan-carol", m.getFrom());
        }
      }
      assertEquals("text/plain", sync(carol, stream(g), 1, 1).getItems(0).getMessage().getContentType(),
          "a post without contentType is text/plain");
    }
  }

  @Test
  void typingIsRelayedToTheOtherOnlineMembersOnly() {
    String g = "typ-g";
    try (WsClient alice = connect("typ-alice"); WsClient bob = connect("typ-bob"); WsClient eve = connect("typ-eve")) {
      createGroup(alice, "r1", g, "Typing", "typ-bob");
      expectResult(alice, "r1");
      expectAddedTo(alice, g);
      expectAddedTo(bob, g);

      bob.sendJson("{\"typing\":{\"to\":\"" + stream(g) + "\"}}");
      var notice = alice.expect(ServerFrame::hasTyping, "typing from bob").getTyping();
      assertEquals("typ-bob", notice.getFrom());
      assertEquals(stream(g), notice.getConversation());

      // a non-member's typing goes nowhere; its sync's answer shows the group handled both
      eve.sendJson("{\"typing\":{\"to\":\"" + stream(g) + "\"}}");
      syncRequest(eve, stream(g), 0, 10);
      eve.expectError(stream(g), "NOT_A_MEMBER");

      // a post travels the same group → gateway → session path after any typing relayed before it
      post(alice, "p1", g, "barrier");
      alice.expectAccepted("p1");
      expectPost(alice, g, "barrier");
      expectPost(bob, g, "barrier");
      assertTrue(alice.unconsumed().stream().noneMatch(ServerFrame::hasTyping), "a non-member's typing was relayed");
      assertTrue(bob.unconsumed().stream().noneMatch(ServerFrame::hasTyping), "the typist got its own typing");
      eve.roundTrip(1);
      assertTrue(eve.unconsumed().stream().noneMatch(ServerFrame::hasTyping), "a non-member got typing");
      assertNoPostOf(eve, g, "a non-member");
    }
  }

  @Test
  void concurrentPostersGetGapFreeSeqsAndKeepTheirSendOrder() {
    String g = "fifo-g";
    int perSender = 20;
    List<String> posters = List.of("fifo-alice", "fifo-bob", "fifo-carol");
    try (WsClient alice = connect("fifo-alice");
        WsClient bob = connect("fifo-bob");
        WsClient carol = connect("fifo-carol");
        WsClient dave = connect("fifo-dave")) {
      List<WsClient> clients = List.of(alice, bob, carol);
      createGroup(alice, "r1", g, "Fifo", "fifo-bob", "fifo-carol", "fifo-dave");
      expectResult(alice, "r1");
      for (WsClient c : List.of(alice, bob, carol, dave)) {
        expectAddedTo(c, g);
      }

      // three posters at once, each pipelining its posts without waiting for accepted
      CompletableFuture<?>[] sending = new CompletableFuture<?>[clients.size()];
      for (int p = 0; p < clients.size(); p++) {
        WsClient c = clients.get(p);
        String who = posters.get(p);
        sending[p] =
            CompletableFuture.runAsync(
                () -> {
                  for (int i = 0; i < perSender; i++) {
                    post(c, who + "-" + i, g, who + " " + i);
                  }
                });
      }
      CompletableFuture.allOf(sending).join();

      TreeSet<Long> allSeqs = new TreeSet<>();
      for (int p = 0; p < clients.size(); p++) {
        long previous = 0;
        for (int i = 0; i < perSender; i++) {
          Accepted a = clients.get(p).expectAccepted(posters.get(p) + "-" + i).getAccepted();
          assertEquals(stream(g), a.getStream());
          assertTrue(a.getSeq() > previous, "FIFO per sender: " + posters.get(p) + " " + i);
          previous = a.getSeq();
          assertTrue(allSeqs.add(a.getSeq()), "seq " + a.getSeq() + " given twice");
        }
      }
      int total = perSender * posters.size();
      assertEquals(LongStream.rangeClosed(2, total + 1).boxed().toList(), List.copyOf(allSeqs), "seqs are gap-free");

      // a reading member gets every post live, in seq order, each sender's in send order
      Map<String, Integer> nextFrom = new HashMap<>();
      for (long seq = 2; seq <= total + 1; seq++) {
        Message m = dave.expect(f -> f.hasMessage() && f.getMessage().getStream().equals(stream(g)), "post " + g).getMessage();
        assertEquals(seq, m.getSeq(), "live posts arrive gap-free and in order");
        int expected = nextFrom.merge(m.getFrom(), 1, Integer::sum) - 1;
        assertEquals(m.getFrom() + " " + expected, m.getText(), "FIFO per sender");
      }
    }
  }

  @Test
  void resendingAPostWithTheSameClientMsgIdReturnsTheOriginalAndCreatesNothing() {
    String g = "idem-g";
    try (WsClient alice = connect("idem-alice"); WsClient bob = connect("idem-bob")) {
      createGroup(alice, "r1", g, "Idem", "idem-bob");
      expectResult(alice, "r1");
      expectAddedTo(bob, g);

      post(alice, "same", g, "once");
      post(alice, "same", g, "once"); // a retry while the first is in flight
      Accepted first = alice.expectAccepted("same").getAccepted();
      Accepted second = alice.expectAccepted("same").getAccepted();
      post(alice, "same", g, "once"); // a retry after acceptance
      Accepted third = alice.expectAccepted("same").getAccepted();
      assertEquals(first, second);
      assertEquals(first, third);

      // the key is per sender: another member's identical clientMsgId is a new post
      post(bob, "same", g, "mine");
      Accepted bobs = bob.expectAccepted("same").getAccepted();
      assertEquals(first.getSeq() + 1, bobs.getSeq(), "the retries created no item");
      Message once = expectPost(bob, g, "once");
      Message mine = expectPost(bob, g, "mine");
      assertEquals(first.getMsgId(), once.getMsgId());
      assertEquals(once.getSeq() + 1, mine.getSeq(), "no copy of the retried post was pushed in between");

      History h = sync(bob, stream(g), 0, 100);
      assertEquals(3, h.getItemsCount(), "CREATED, the post once, bob's post");
    }
  }

  // ------------------------------------------------------------------ membership changes

  @Test
  void membersAddedLaterGetLaterPostsLiveAndCanSyncEarlierHistory() {
    String g = "late-g";
    try (WsClient alice = connect("late-alice"); WsClient bob = connect("late-bob"); WsClient dave = connect("late-dave")) {
      createGroup(alice, "r1", g, "Late", "late-bob");
      expectResult(alice, "r1");
      expectAddedTo(bob, g);
      for (int i = 0; i < 2; i++) {
        post(alice, "early" + i, g, "early " + i);
        alice.expectAccepted("early" + i);
      }
      expectPost(bob, g, "early 1");
      dave.roundTrip(1);
      assertNoPostOf(dave, g, "not a member yet");

      addMembers(alice, "r2", g, "late-dave");
      expectResult(alice, "r2");
      SystemItem addedToGroup = expectAddedTo(dave, g);
      assertEquals("late-alice", addedToGroup.getActor());
      SystemItem memberAdded = expectSystem(dave, g, SystemKind.MEMBER_ADDED);
      assertEquals(4, memberAdded.getSeq());
      assertEquals(List.of("late-dave"), memberAdded.getMembersList());
      assertEquals("late-alice", memberAdded.getActor());
      assertEquals(4, expectSystem(bob, g, SystemKind.MEMBER_ADDED).getSeq(), "existing members see the change too");

      post(alice, "later", g, "later");
      long seq = alice.expectAccepted("later").getAccepted().getSeq();
      assertEquals(5, seq);
      assertEquals(seq, expectPost(dave, g, "later").getSeq(), "the added member gets later posts live");

      // and reads what was said before it joined
      History h = sync(dave, stream(g), 0, 100);
      assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs(h));
      assertEquals(SystemKind.CREATED, h.getItems(0).getSystem().getKind());
      assertEquals("early 0", h.getItems(1).getMessage().getText());
      assertEquals("early 1", h.getItems(2).getMessage().getText());
      assertEquals(SystemKind.MEMBER_ADDED, h.getItems(3).getSystem().getKind());

      // and may post
      post(dave, "d1", g, "hi all");
      assertEquals(6, dave.expectAccepted("d1").getAccepted().getSeq());
      expectPost(alice, g, "hi all");
    }
  }

  @Test
  void removedMembersGetNoLaterPostAndLoseAccess() {
    String g = "rm-g";
    try (WsClient alice = connect("rm-alice");
        WsClient bobPhone = connect("rm-bob");
        WsClient bobLaptop = connect("rm-bob");
        WsClient carol = connect("rm-carol")) {
      createGroup(alice, "r1", g, "Rm", "rm-bob", "rm-carol");
      expectResult(alice, "r1");
      for (WsClient c : List.of(alice, bobPhone, bobLaptop, carol)) {
        expectAddedTo(c, g);
      }
      post(alice, "before", g, "before");
      alice.expectAccepted("before");
      expectPost(bobPhone, g, "before");
      expectPost(bobLaptop, g, "before");

      removeMembers(alice, "r2", g, "rm-bob");
      expectResult(alice, "r2");
      post(alice, "after", g, "after removal"); // sent as soon as the result arrived
      long afterSeq = alice.expectAccepted("after").getAccepted().getSeq();
      assertEquals(afterSeq, expectPost(carol, g, "after removal").getSeq());

      for (WsClient bob : List.of(bobPhone, bobLaptop)) {
        SystemItem removed = expectSystem(bob, g, SystemKind.MEMBER_REMOVED);
        assertEquals(List.of("rm-bob"), removed.getMembersList());
        assertEquals("rm-alice", removed.getActor());
        assertEquals(afterSeq - 1, removed.getSeq());
        SystemItem notice =
            bob.expect(f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.REMOVED_FROM_GROUP, "REMOVED_FROM_GROUP").getSystem();
        assertEquals(stream(g), notice.getGroup());
        assertEquals("inbox", notice.getStream());
        bob.roundTrip(2); // carol, on the same node, already got the post: it would be queued before this pong
        assertNoPostOf(bob, g, "a removed member");
      }
      assertEquals(afterSeq - 1, expectSystem(carol, g, SystemKind.MEMBER_REMOVED).getSeq());

      // no posting and no reading any more; the connection stays usable
      post(bobPhone, "b1", g, "still here?");
      bobPhone.expectError("b1", "NOT_A_MEMBER");
      syncRequest(bobPhone, stream(g), 0, 100);
      bobPhone.expectError(stream(g), "NOT_A_MEMBER");
      History inbox = sync(bobPhone, "inbox", 0, 100);
      assertEquals(
          List.of(SystemKind.ADDED_TO_GROUP, SystemKind.REMOVED_FROM_GROUP),
          inbox.getItemsList().stream().map(i -> i.getSystem().getKind()).toList(),
          "the inbox still syncs, and records the removal");

      // a later post does not reach bob either, and bob's reconnecting device no longer lists the group
      post(alice, "later", g, "much later");
      alice.expectAccepted("later");
      expectPost(carol, g, "much later");
      bobLaptop.roundTrip(3);
      assertNoPostOf(bobLaptop, g, "a removed member");
      try (WsClient bobAgain = WsClient.connect(node.wsUri(Tokens.valid("rm-bob")))) {
        assertTrue(streamInfo(bobAgain.welcome(), stream(g)).isEmpty(), "welcome after removal does not list the group");
      }

      // added back, bob gets posts again and reads the stream but for the time away: never what
      // was posted while he was out (his removal he sees; the next item he sees is his return)
      addMembers(alice, "r3", g, "rm-bob");
      expectResult(alice, "r3");
      expectAddedTo(bobLaptop, g);
      expectSystem(bobLaptop, g, SystemKind.MEMBER_ADDED);
      post(alice, "back", g, "welcome back");
      long backSeq = alice.expectAccepted("back").getAccepted().getSeq();
      assertEquals(backSeq, expectPost(bobLaptop, g, "welcome back").getSeq());
      assertEquals(List.of(1L, 2L, afterSeq - 1, backSeq - 1, backSeq), seqs(sync(bobLaptop, stream(g), 0, 100)));
    }
  }

  @Test
  void aMemberWhoLeavesGetsNoMorePosts() {
    String g = "leave-g";
    try (WsClient alice = connect("leave-alice"); WsClient bob = connect("leave-bob"); WsClient carol = connect("leave-carol")) {
      createGroup(alice, "r1", g, "Leave", "leave-bob", "leave-carol");
      expectResult(alice, "r1");
      for (WsClient c : List.of(alice, bob, carol)) {
        expectAddedTo(c, g);
      }

      leaveGroup(carol, "r2", g);
      expectResult(carol, "r2");
      SystemItem left = expectSystem(carol, g, SystemKind.MEMBER_LEFT);
      assertEquals(List.of("leave-carol"), left.getMembersList());
      assertEquals("leave-carol", left.getActor());
      assertEquals(2, left.getSeq());
      assertEquals(2, expectSystem(alice, g, SystemKind.MEMBER_LEFT).getSeq());
      carol.expect(
          f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.REMOVED_FROM_GROUP && f.getSystem().getGroup().equals(stream(g)),
          "REMOVED_FROM_GROUP in carol's inbox");

      post(alice, "p1", g, "after leaving");
      alice.expectAccepted("p1");
      expectPost(bob, g, "after leaving");
      carol.roundTrip(1);
      assertNoPostOf(carol, g, "a member who left");

      post(carol, "c1", g, "back?");
      carol.expectError("c1", "NOT_A_MEMBER");
      leaveGroup(carol, "r3", g);
      carol.expectError("r3", "NOT_A_MEMBER");
      carol.roundTrip(2);
    }
  }

  // ------------------------------------------------------------------ authority and validation

  @Test
  void nonMembersCannotPostOrRead() {
    String g = "auth-g";
    try (WsClient alice = connect("auth-alice"); WsClient eve = connect("auth-eve")) {
      createGroup(alice, "r1", g, "Auth", "auth-bob");
      expectResult(alice, "r1");

      post(eve, "e1", g, "let me in");
      var error = eve.expectError("e1", "NOT_A_MEMBER").getError();
      assertFalse(error.getMessage().isEmpty());
      syncRequest(eve, stream(g), 0, 100);
      eve.expectError(stream(g), "NOT_A_MEMBER");

      // the connection is usable: eve creates and posts to a group of her own
      createGroup(eve, "r2", "auth-eve-g", "Mine");
      expectResult(eve, "r2");
      post(eve, "e2", "auth-eve-g", "mine");
      assertEquals(2, eve.expectAccepted("e2").getAccepted().getSeq());

      History h = sync(alice, stream(g), 0, 100);
      assertEquals(1, h.getItemsCount(), "the refused post created nothing");
    }
  }

  @Test
  void onlyOwnersChangeMembership() {
    String g = "own-g";
    try (WsClient alice = connect("own-alice"); WsClient bob = connect("own-bob")) {
      createGroup(alice, "r1", g, "Own", "own-bob", "own-carol");
      expectResult(alice, "r1");
      expectAddedTo(bob, g);

      addMembers(bob, "b1", g, "own-dave");
      bob.expectError("b1", "FORBIDDEN");
      removeMembers(bob, "b2", g, "own-carol");
      bob.expectError("b2", "FORBIDDEN");
      removeMembers(bob, "b3", g, "own-alice");
      bob.expectError("b3", "FORBIDDEN");

      // the owner cannot remove itself, nor leave while there are members
      removeMembers(alice, "a1", g, "own-alice");
      alice.expectError("a1", "FORBIDDEN");
      leaveGroup(alice, "a2", g);
      alice.expectError("a2", "FORBIDDEN");

      // both connections stay usable, and nothing changed
      post(bob, "p1", g, "still a plain member");
      assertEquals(2, bob.expectAccepted("p1").getAccepted().getSeq(), "the refused changes created no item");
      removeMembers(alice, "a3", g, "own-carol");
      expectResult(alice, "a3");
      assertRefusalsGotNoResult(bob, "b1", "b2", "b3");
      assertRefusalsGotNoResult(alice, "a1", "a2");
    }
  }

  @Test
  void unknownGroupsAreNotFound() {
    try (WsClient alice = connect("nf-alice")) {
      post(alice, "n1", "nf-nowhere", "hello?");
      alice.expectError("n1", "NOT_FOUND");
      addMembers(alice, "n2", "nf-nowhere", "nf-bob");
      alice.expectError("n2", "NOT_FOUND");
      removeMembers(alice, "n3", "nf-nowhere", "nf-bob");
      alice.expectError("n3", "NOT_FOUND");
      leaveGroup(alice, "n4", "nf-nowhere");
      alice.expectError("n4", "NOT_FOUND");
      syncRequest(alice, stream("nf-nowhere"), 0, 10);
      alice.expectError(stream("nf-nowhere"), "NOT_FOUND");

      // the refusals did not create the group: creating it now works, as seq 1
      createGroup(alice, "n5", "nf-nowhere", "Now");
      expectResult(alice, "n5");
      assertEquals(List.of(1L), seqs(sync(alice, stream("nf-nowhere"), 0, 10)));
      assertRefusalsGotNoResult(alice, "n2", "n3", "n4");
    }
  }

  @Test
  void aGroupIdIsCreatedOnce() {
    try (WsClient alice = connect("dup-alice"); WsClient bob = connect("dup-bob")) {
      createGroup(alice, "r1", "dup-g", "First", "dup-bob");
      expectResult(alice, "r1");
      createGroup(alice, "r2", "dup-g", "Again");
      alice.expectError("r2", "ALREADY_EXISTS");
      createGroup(bob, "r3", "dup-g", "Takeover");
      bob.expectError("r3", "ALREADY_EXISTS");

      // still alice's group with its first title and members; both connections usable
      post(bob, "p1", "dup-g", "still here");
      assertEquals(2, bob.expectAccepted("p1").getAccepted().getSeq());
      SystemItem created = sync(alice, stream("dup-g"), 0, 10).getItems(0).getSystem();
      assertEquals("First", created.getTitle());
      assertEquals("dup-alice", created.getActor());
      assertRefusalsGotNoResult(alice, "r2");
    }
  }

  @Test
  void invalidGroupIdsAreBadFrames() {
    String tooLong = "g".repeat(65);
    try (WsClient alice = connect("bad-alice")) {
      createGroup(alice, "r1", "bad id!", "Bad");
      alice.expectError("r1", "BAD_FRAME");
      createGroup(alice, "r2", tooLong, "Long");
      alice.expectError("r2", "BAD_FRAME");
      createGroup(alice, "r3", "", "Empty");
      alice.expectError("r3", "BAD_FRAME");
      createGroup(alice, "r4", "group:x", "Prefixed"); // ':' is outside the id alphabet
      alice.expectError("r4", "BAD_FRAME");
      addMembers(alice, "r5", "bad/id", "bad-bob");
      alice.expectError("r5", "BAD_FRAME");
      post(alice, "p1", "bad id", "hello");
      alice.expectError("p1", "BAD_FRAME");
      syncRequest(alice, "group:" + tooLong, 0, 10);
      alice.expectError("group:" + tooLong, "BAD_FRAME");
      createGroup(alice, "r6", "bad-g", "Bad member", "bad bob");
      alice.expectError("r6", "BAD_FRAME");

      // the length limit is inclusive, and the connection is usable
      String longest = "g".repeat(64);
      createGroup(alice, "r7", longest, "Longest");
      expectResult(alice, "r7");
      post(alice, "p2", longest, "fits");
      assertEquals(2, alice.expectAccepted("p2").getAccepted().getSeq());
      createGroup(alice, "r8", "bad-g", "Good now");
      expectResult(alice, "r8");
    }
  }

  @Test
  void groupsAreLimitedInSize() {
    try (WsClient alice = connect("big-alice")) {
      List<String> tooMany = new ArrayList<>();
      for (int i = 0; i < GROUP_SIZE; i++) {
        tooMany.add("big-m" + i); // with the owner, one more than allowed
      }
      createGroup(alice, "r1", "big-g", "Big", tooMany.toArray(String[]::new));
      alice.expectError("r1", "TOO_LARGE");

      List<String> fits = tooMany.subList(0, GROUP_SIZE - 2);
      createGroup(alice, "r2", "big-g", "Big", fits.toArray(String[]::new));
      expectResult(alice, "r2");
      addMembers(alice, "r3", "big-g", "big-x", "big-y");
      alice.expectError("r3", "TOO_LARGE");
      addMembers(alice, "r4", "big-g", "big-x");
      expectResult(alice, "r4");
      addMembers(alice, "r5", "big-g", fits.get(0)); // already a member: not a new one
      expectResult(alice, "r5");
      addMembers(alice, "r6", "big-g", "big-y");
      alice.expectError("r6", "TOO_LARGE");

      History h = sync(alice, stream("big-g"), 0, 100);
      assertEquals(2, h.getItemsCount(), "CREATED and one MEMBER_ADDED: refusals and no-ops wrote nothing");
      assertEquals(List.of("big-x"), h.getItems(1).getSystem().getMembersList());
      assertRefusalsGotNoResult(alice, "r1", "r3", "r6");
    }
  }

  // ------------------------------------------------------------------ history and restart

  @Test
  void historyPagesAreGapFreeFromTheJournalAndFromMemory() {
    String g = "page-g";
    int posts = 10;
    try (WsClient alice = connect("page-alice")) {
      createGroup(alice, "r1", g, "Pages", "page-bob");
      expectResult(alice, "r1");
      for (int i = 0; i < posts; i++) {
        post(alice, "m" + i, g, "msg " + i);
      }
      for (int i = 0; i < posts; i++) {
        assertEquals(i + 2, alice.expectAccepted("m" + i).getAccepted().getSeq());
      }
    }
    long lastSeq = posts + 1;
    try (WsClient bob = connect("page-bob")) {
      List<StreamItem> all = new ArrayList<>();
      List<Boolean> hasMore = new ArrayList<>();
      long after = 0;
      boolean more = true;
      while (more) {
        History page = sync(bob, stream(g), after, 4);
        assertEquals(stream(g), page.getStream());
        assertTrue(page.getItemsCount() > 0 && page.getItemsCount() <= 4, "page size " + page.getItemsCount());
        for (StreamItem item : page.getItemsList()) {
          assertEquals(after + 1, seqOf(item), "pages are gap-free");
          after = seqOf(item);
          all.add(item);
        }
        more = page.getHasMore();
        hasMore.add(more);
      }
      assertEquals(List.of(true, true, false), hasMore, "pages of 4, 4 and 3 items");
      assertEquals(lastSeq, all.size());
      assertEquals(SystemKind.CREATED, all.get(0).getSystem().getKind());
      for (int i = 0; i < posts; i++) {
        Message m = all.get(i + 1).getMessage();
        assertEquals("msg " + i, m.getText());
        assertEquals("page-alice", m.getFrom());
        assertEquals(stream(g), m.getStream());
        assertEquals(stream(g), m.getConversation());
      }

      // a page that starts in the journal and one served from memory say the same thing
      History fromJournal = sync(bob, stream(g), 2, 4);
      assertEquals(List.of(3L, 4L, 5L, 6L), seqs(fromJournal));
      assertTrue(fromJournal.getHasMore());
      assertEquals(all.subList(2, 6), fromJournal.getItemsList());
      History fromMemory = sync(bob, stream(g), lastSeq - 2, 4);
      assertEquals(List.of(lastSeq - 1, lastSeq), seqs(fromMemory));
      assertFalse(fromMemory.getHasMore());
      assertEquals(all.subList((int) lastSeq - 2, (int) lastSeq), fromMemory.getItemsList());
      History end = sync(bob, stream(g), lastSeq, 4);
      assertEquals(0, end.getItemsCount());
      assertFalse(end.getHasMore());
    }
  }

  @Test
  void aRestartKeepsTheGroupItsMembersAndEveryAcceptedPost() {
    String g = "rs-g";
    List<Accepted> accepted = new ArrayList<>();
    try (WsClient alice = connect("rs-alice"); WsClient bob = connect("rs-bob"); WsClient carol = connect("rs-carol")) {
      createGroup(alice, "r1", g, "Restart", "rs-bob", "rs-carol");
      expectResult(alice, "r1");
      expectAddedTo(carol, g);
      for (int i = 0; i < 6; i++) {
        post(i % 2 == 0 ? alice : bob, "k" + i, g, "keep " + i);
      }
      for (int i = 0; i < 6; i++) {
        accepted.add((i % 2 == 0 ? alice : bob).expectAccepted("k" + i).getAccepted());
      }
      removeMembers(alice, "r2", g, "rs-carol");
      expectResult(alice, "r2");
    }
    long lastSeq = 1 + 6 + 1; // CREATED, the posts, MEMBER_REMOVED
    assertEquals(LongStream.rangeClosed(2, 7).boxed().toList(), accepted.stream().map(Accepted::getSeq).sorted().toList());

    node.restart();

    try (WsClient alice = WsClient.connect(node.wsUri(Tokens.valid("rs-alice")));
        WsClient bob = WsClient.connect(node.wsUri(Tokens.valid("rs-bob")));
        WsClient carol = WsClient.connect(node.wsUri(Tokens.valid("rs-carol")))) {
      assertEquals(lastSeq, streamInfo(alice.welcome(), stream(g)).orElseThrow().getLastSeq());
      assertEquals(lastSeq, streamInfo(bob.welcome(), stream(g)).orElseThrow().getLastSeq());
      assertTrue(streamInfo(carol.welcome(), stream(g)).isEmpty(), "the removal survived the restart");

      History h = sync(alice, stream(g), 0, 100);
      assertEquals(LongStream.rangeClosed(1, lastSeq).boxed().toList(), seqs(h));
      assertEquals("Restart", h.getItems(0).getSystem().getTitle());
      Map<Long, Accepted> bySeq = accepted.stream().collect(Collectors.toMap(Accepted::getSeq, a -> a));
      for (int i = 1; i <= 6; i++) {
        Message m = h.getItems(i).getMessage();
        Accepted a = bySeq.get(m.getSeq());
        assertEquals(a.getMsgId(), m.getMsgId(), "same msgId after the restart");
        assertEquals("keep " + a.getClientMsgId().substring(1), m.getText());
      }
      assertEquals(SystemKind.MEMBER_REMOVED, h.getItems(7).getSystem().getKind());

      // a retry across the restart is still answered with the original acceptance
      post(alice, "k0", g, "keep 0");
      assertEquals(accepted.get(0), alice.expectAccepted("k0").getAccepted());

      // members keep posting with the next seq, and get each other's posts live again
      post(bob, "n1", g, "after restart");
      assertEquals(lastSeq + 1, bob.expectAccepted("n1").getAccepted().getSeq());
      assertEquals(lastSeq + 1, expectPost(alice, g, "after restart").getSeq());
      post(carol, "c1", g, "me too?");
      carol.expectError("c1", "NOT_A_MEMBER");
    }
  }

  /**
   * An idle group with no online member leaves memory, also when its last event was a membership
   * change (whose notices are acked, not journaled), and comes back with its stream intact. Runs
   * on a node of its own: short idle and retry settings there would make the other tests'
   * entities passivate at arbitrary points.
   */
  @Test
  void anIdleGroupPassivatesAndComesBackIntact() {
    String g = "pv-g";
    try (RouterTestNode idleNode =
        new RouterTestNode("group_passivation", Map.of("router.entity.passivate-idle", "1s", "router.entity.transfer-retry", "200ms"))) {
      try (WsClient alice = WsClient.connect(idleNode.wsUri(Tokens.valid("pv-alice")))) {
        alice.welcome();
        createGroup(alice, "r1", g, "Idle", "pv-bob");
        expectResult(alice, "r1");
        expectAddedTo(alice, g);
      }
      TestProbe<Object> probe = TestProbe.create(idleNode.system());
      probe.awaitAssert(
          Duration.ofSeconds(10),
          () -> {
            assertFalse(liveGroups(idleNode).contains(g), "group " + g + " still in memory");
            return null;
          });

      try (WsClient alice = WsClient.connect(idleNode.wsUri(Tokens.valid("pv-alice")));
          WsClient bob = WsClient.connect(idleNode.wsUri(Tokens.valid("pv-bob")))) {
        assertEquals(1, streamInfo(alice.welcome(), stream(g)).orElseThrow().getLastSeq());
        assertEquals(1, streamInfo(bob.welcome(), stream(g)).orElseThrow().getLastSeq());
        post(alice, "p1", g, "awake");
        assertEquals(2, alice.expectAccepted("p1").getAccepted().getSeq());
        expectPost(bob, g, "awake");
        assertEquals(SystemKind.CREATED, sync(bob, stream(g), 0, 10).getItems(0).getSystem().getKind());
      }
    }
  }

  private static Set<String> liveGroups(RouterTestNode n) {
    ShardRegion.CurrentShardRegionState state =
        AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
                ClusterSharding.get(n.system()).shardState(),
                replyTo -> new GetShardRegionState(GroupEntity.ENTITY_TYPE_KEY, replyTo),
                WsClient.TIMEOUT,
                n.system().scheduler())
            .toCompletableFuture()
            .join();
    return state.getShards().stream().flatMap(s -> s.getEntityIds().stream()).collect(Collectors.toSet());
  }

  // ------------------------------------------------------------------ helpers

  private static WsClient connect(String user) {
    return node.welcomed(user);
  }

  private static String stream(String groupId) {
    return "group:" + groupId;
  }

  /** Sends a frame as canonical protobuf JSON in a text message, as a browser would. */
  private static void send(WsClient c, ClientFrame frame) {
    try {
      c.sendJson(JSON.print(frame));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void createGroup(WsClient c, String requestId, String groupId, String title, String... members) {
    send(c, ClientFrame.newBuilder()
        .setCreateGroup(CreateGroup.newBuilder().setRequestId(requestId).setGroupId(groupId).setTitle(title).addAllMembers(List.of(members)))
        .build());
  }

  private static void addMembers(WsClient c, String requestId, String groupId, String... members) {
    send(c, ClientFrame.newBuilder()
        .setAddMembers(AddMembers.newBuilder().setRequestId(requestId).setGroupId(groupId).addAllMembers(List.of(members)))
        .build());
  }

  private static void removeMembers(WsClient c, String requestId, String groupId, String... members) {
    send(c, ClientFrame.newBuilder()
        .setRemoveMembers(RemoveMembers.newBuilder().setRequestId(requestId).setGroupId(groupId).addAllMembers(List.of(members)))
        .build());
  }

  private static void leaveGroup(WsClient c, String requestId, String groupId) {
    send(c, ClientFrame.newBuilder().setLeaveGroup(LeaveGroup.newBuilder().setRequestId(requestId).setGroupId(groupId)).build());
  }

  private static void post(WsClient c, String clientMsgId, String groupId, String text) {
    send(c, ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setTo(stream(groupId)).setText(text)).build());
  }

  private static void syncRequest(WsClient c, String stream, long afterSeq, int limit) {
    send(c, ClientFrame.newBuilder().setSync(Sync.newBuilder().setStream(stream).setAfterSeq(afterSeq).setLimit(limit)).build());
  }

  private static History sync(WsClient c, String stream, long afterSeq, int limit) {
    syncRequest(c, stream, afterSeq, limit);
    return c.expect(f -> f.hasHistory() && f.getHistory().getStream().equals(stream), "history of " + stream).getHistory();
  }

  private static void expectResult(WsClient c, String requestId) {
    ServerFrame f = c.expect(x -> x.hasResult() && x.getResult().getRequestId().equals(requestId) || x.hasError() && x.getError().getRef().equals(requestId), "result " + requestId);
    assertTrue(f.hasResult(), "expected result " + requestId + ", got " + f);
    assertTrue(f.getResult().getOk());
  }

  private static SystemItem expectAddedTo(WsClient c, String groupId) {
    return c.expect(
            f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.ADDED_TO_GROUP && f.getSystem().getGroup().equals(stream(groupId)),
            "ADDED_TO_GROUP " + groupId)
        .getSystem();
  }

  private static SystemItem expectSystem(WsClient c, String groupId, SystemKind kind) {
    return c.expect(f -> f.hasSystem() && f.getSystem().getKind() == kind && f.getSystem().getStream().equals(stream(groupId)), kind + " in " + groupId)
        .getSystem();
  }

  private static Message expectPost(WsClient c, String groupId, String text) {
    return c.expect(
            f -> f.hasMessage() && f.getMessage().getStream().equals(stream(groupId)) && f.getMessage().getText().equals(text),
            "post '" + text + "' in " + groupId)
        .getMessage();
  }

  /** Call after a round trip on {@code c}: no post of the group was queued for it before the pong. */
  private static void assertNoPostOf(WsClient c, String groupId, String who) {
    List<ServerFrame> posts =
        c.unconsumed().stream().filter(f -> f.hasMessage() && f.getMessage().getStream().equals(stream(groupId))).toList();
    assertTrue(posts.isEmpty(), who + " got posts of " + groupId + ": " + posts);
  }

  /** Refused group operations answer error, never a result: checked after a later frame arrived. */
  private static void assertRefusalsGotNoResult(WsClient c, String... requestIds) {
    c.roundTrip(System.nanoTime());
    for (String id : requestIds) {
      assertTrue(c.unconsumed().stream().noneMatch(f -> f.hasResult() && f.getResult().getRequestId().equals(id)), "a result for refused " + id);
    }
  }

  private static Optional<StreamInfo> streamInfo(ServerFrame welcome, String stream) {
    return welcome.getWelcome().getStreamsList().stream().filter(s -> s.getStream().equals(stream)).findFirst();
  }

  private static long seqOf(StreamItem item) {
    return item.hasMessage() ? item.getMessage().getSeq() : item.getSystem().getSeq();
  }

  private static List<Long> seqs(History h) {
    return h.getItemsList().stream().map(GroupMessagingTest::seqOf).toList();
  }
}
