package org.imrouter.node.serialization;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.NotSerializableException;
import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.SnapshotTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.imrouter.node.group.GroupEntityTest;
import org.imrouter.node.user.UserEntityTest;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.node.user.UserEntity;
import org.imrouter.persistence.ProtobufPersistenceSerializer;
import org.imrouter.protocol.persist.Cursor;
import org.imrouter.protocol.persist.Dedup;
import org.imrouter.protocol.persist.DirectReceived;
import org.imrouter.protocol.persist.DirectSent;
import org.imrouter.protocol.persist.GroupCreated;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.GroupMembership;
import org.imrouter.protocol.persist.GroupSnapshot;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.MemberSnapshot;
import org.imrouter.protocol.persist.MembersChanged;
import org.imrouter.protocol.persist.PeerCounter;
import org.imrouter.protocol.persist.PendingNotice;
import org.imrouter.protocol.persist.Posted;
import org.imrouter.protocol.persist.ReadMoved;
import org.imrouter.protocol.persist.Role;
import org.imrouter.protocol.persist.SeqEvent;
import org.imrouter.protocol.persist.UserSnapshot;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What is written to storage survives the trip through Pekko serialization with the node's real
 * bindings (serialization.conf): every event variant and both snapshot types, under stable
 * manifests; and a non-trivial entity state survives snapshot → bytes → snapshot → state, through
 * UserSnapshots and GroupSnapshots, on the entity's own recovery path.
 *
 * <p>Unlike the entity tests, the in-memory journal and snapshot store here serialize what they
 * store ({@code pekko.persistence.testkit.*.serialize = on}), so a restart reads bytes back.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@ExtendWith(TestKitJUnit5Extension.class)
class PersistenceSerializationTest {
  private static final Config STORE_BYTES =
      ConfigFactory.parseString(
          "pekko.persistence.testkit.events.serialize = on\n"
              + "pekko.persistence.testkit.snapshots.serialize = on");

  @JUnit5TestKit
  final ActorTestKit testKit =
      new JUnit5TestKitBuilder()
          .withName("PersistenceSerializationTest")
          .withCustomConfig(
              STORE_BYTES.withFallback(EventSourcedBehaviorTestKit.config()).withFallback(ConfigFactory.load("entity-test")))
          .build();

  private final RouterSettings settings = RouterSettings.fromConfig(testKit.system().settings().config());
  private Serialization serialization;
  private ClusterSharding sharding;

  @BeforeAll
  void start() {
    serialization = SerializationExtension.get(Adapter.toClassic(testKit.system()));
    // the entities transfer through sharding; here nobody needs to receive what they send
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    testKit.createTestProbe().awaitAssert(() -> {
      assertEquals(MemberStatus.up(), cluster.selfMember().status());
      return null;
    });
    sharding = ClusterSharding.get(testKit.system());
    sharding.init(Entity.of(UserEntity.ENTITY_TYPE_KEY, ctx -> Behaviors.receiveMessage(PersistenceSerializationTest::answerLastSeq)));
    // the region buffers until it has registered with the coordinator (and would hold up the
    // shutdown with what it buffered): wait for that once here
    TestProbe<Long> probe = testKit.createTestProbe();
    sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, "first").tell(new UserEntity.GetLastSeq(probe.ref()));
    probe.expectMessage(Duration.ofSeconds(15), 0L);
  }

  /** The stub user entity: answers GetLastSeq, drops the rest. */
  private static Behavior<UserEntity.Command> answerLastSeq(UserEntity.Command command) {
    if (command instanceof UserEntity.GetLastSeq get) {
      get.replyTo().tell(0L);
    }
    return Behaviors.same();
  }

  // ------------------------------------------------------------------ events and snapshots

  static Stream<Arguments> persisted() {
    return Stream.of(
        Arguments.of("inbox sent", sent(), "inbox-event"),
        Arguments.of("inbox received", received(), "inbox-event"),
        Arguments.of("inbox received (published)", published(), "inbox-event"),
        Arguments.of("inbox membership", membership(), "inbox-event"),
        Arguments.of("inbox read", read(), "inbox-event"),
        Arguments.of("group created", created(), "group-event"),
        Arguments.of("group members added", GroupEvent.newBuilder().setTs(TS).setMembersAdded(change("owner", "dave")).build(), "group-event"),
        Arguments.of("group members removed", GroupEvent.newBuilder().setTs(TS).setMembersRemoved(change("owner", "bob", "carol")).build(), "group-event"),
        Arguments.of("group member left", GroupEvent.newBuilder().setTs(TS).setMemberLeft(change("dave", "dave")).build(), "group-event"),
        Arguments.of("group posted", posted(), "group-event"),
        Arguments.of("user snapshot", userSnapshot(), "user-snapshot"),
        Arguments.of("group snapshot", groupSnapshot(), "group-snapshot"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("persisted")
  void roundTripsWithTheProtobufSerializerUnderAStableManifest(String name, Message message, String manifest)
      throws NotSerializableException {
    Serializer serializer = serialization.findSerializerFor(message);
    assertInstanceOf(ProtobufPersistenceSerializer.class, serializer, name);
    assertEquals(ProtobufPersistenceSerializer.IDENTIFIER, serializer.identifier());
    assertEquals(manifest, Serializers.manifestFor(serializer, message));

    byte[] bytes = serialization.serialize(message).get();
    Object back = serialization.deserialize(bytes, serializer.identifier(), manifest).get();

    // the test data sets every field, so a field the round trip lost would show here
    assertEquals(message, back);
  }

  @Test
  void unknownManifestsAndTypesAreRefused() throws NotSerializableException {
    ProtobufPersistenceSerializer serializer =
        (ProtobufPersistenceSerializer) serialization.serializerFor(InboxEvent.class);
    assertThrows(NotSerializableException.class, () -> serializer.fromBinary(new byte[0], "no-such-manifest"));
    assertThrows(IllegalArgumentException.class, () -> serializer.manifest(SeqEvent.getDefaultInstance()));
    // corrupt bytes fail loudly instead of reading as a default event
    assertThrows(IllegalArgumentException.class, () -> serializer.fromBinary(new byte[] {(byte) 0xff}, "inbox-event"));
  }

  @Test
  void javaSerializationIsOff() {
    record Plain(String value) implements Serializable {}
    assertTrue(serialization.serialize(new Plain("x")).isFailure());
  }

  // ------------------------------------------------------------------ entity state through snapshots

  @Test
  void aUserStateSurvivesASnapshotThroughTheSerializer() {
    String user = "sam";
    String pid = UserEntity.persistenceId(user).id();
    EventSourcedBehaviorTestKit<UserEntity.Command, InboxEvent, UserEntity.State> sam =
        EventSourcedBehaviorTestKit.create(
            testKit.system(), UserEntity.create(user, settings, sharding, null), EventSourcedBehaviorTestKit.disabledSerializationSettings());
    sam.<TransferAck>runCommand(ack -> new UserEntity.Deliver("bob", 1, "m1", TS, "text/plain", "hi", new byte[] {1}, ack));
    sam.<Reply>runCommand(r -> new UserEntity.SendDirect("d1", "user:dave", "text/plain", "hey", new byte[0], r));
    sam.runCommand(new UserEntity.TransferAcked(new TransferAck("dave", 1, false)));
    // from the next event on, dave's counter is in no pending item, only in the sent counters
    sam.<TransferAck>runCommand(ack -> new UserEntity.MembershipNotice("g1", 1, true, "owner", ack));
    sam.<Reply>runCommand(r -> new UserEntity.SendDirect("c1", "user:carol", "text/plain", "hello", new byte[] {2}, r));
    sam.<Reply>runCommand(r -> new UserEntity.MarkRead("group:g1", 9, r));
    sam.<Reply>runCommand(r -> new UserEntity.SystemMessage("system:billing", "inv-1", "text/plain", "due", new byte[0], r));
    UserEntity.State before = sam.getState();
    SnapshotTestKit snapshots = sam.snapshotTestKit().orElseThrow();
    assertEquals(3, snapshots.expectNextPersistedClass(pid, UserSnapshot.class).getLastSeq());
    assertEquals(6, snapshots.expectNextPersistedClass(pid, UserSnapshot.class).getLastSeq());

    sam.persistenceTestKit().clearByIdPreservingSeqNumbers(pid);
    UserEntity.State after = sam.restart().state();

    // snapshots leave the recent items out (docs/decisions/0007); nothing was replayed after it
    assertEquals(UserEntityTest.recentAside(before), after);
    // and it was worth comparing
    assertEquals(6, after.lastSeq());
    assertEquals("c1", after.dedup().find(user, "c1").get().clientMsgId());
    assertEquals(1, after.outbox().unacked("carol", 0).size());
    assertTrue(after.outbox().unacked("dave", 0).isEmpty());
    assertEquals(2, after.outbox().nextCounter("dave"));
    assertEquals(1, after.receivedFrom("user:bob"));
    assertEquals(1, after.receivedFrom("group:g1"));
    assertEquals(List.of("g1"), after.groups().toJavaList());
    assertEquals(9, after.cursor("group:g1"));
  }

  @Test
  void aGroupStateSurvivesASnapshotThroughTheSerializer() {
    String groupId = "team";
    String pid = GroupEntity.persistenceId(groupId).id();
    EventSourcedBehaviorTestKit<GroupEntity.Command, GroupEvent, GroupEntity.State> team =
        EventSourcedBehaviorTestKit.create(
            testKit.system(),
            GroupEntity.create(groupId, settings, sharding, null),
            EventSourcedBehaviorTestKit.disabledSerializationSettings());
    team.<Reply>runCommand(r -> new GroupEntity.Create("owner", "Team", List.of("bob", "carol"), r));
    team.runCommand(new GroupEntity.NoticeAcked(new TransferAck("bob", 1, false)));
    // from the next event on, bob's notice counter is in no pending notice, only in the counters
    team.<Reply>runCommand(r -> new GroupEntity.Post("bob", "k1", "text/plain", "hi", new byte[] {3}, r));
    team.<Reply>runCommand(r -> new GroupEntity.AddMembers("owner", List.of("dave"), r));
    team.<Reply>runCommand(r -> new GroupEntity.RemoveMembers("owner", List.of("carol"), r));
    team.<Reply>runCommand(r -> new GroupEntity.Leave("dave", r));
    team.<Reply>runCommand(r -> new GroupEntity.Post("system:bot", "k1", "text/plain", "notice", new byte[0], r));
    GroupEntity.State before = team.getState();
    SnapshotTestKit snapshots = team.snapshotTestKit().orElseThrow();
    assertEquals(3, snapshots.expectNextPersistedClass(pid, GroupSnapshot.class).getLastSeq());
    assertEquals(6, snapshots.expectNextPersistedClass(pid, GroupSnapshot.class).getLastSeq());

    team.persistenceTestKit().clearByIdPreservingSeqNumbers(pid);
    GroupEntity.State after = team.restart().state();

    assertEquals(GroupEntityTest.recentAside(before), after);
    assertEquals(6, after.lastSeq());
    assertTrue(after.created());
    assertEquals("Team", after.title());
    assertEquals(List.of("owner", "bob"), after.members().keySet().toJavaList());
    assertEquals(Role.OWNER, after.roleOf("owner"));
    Reply.Accepted bobs = after.dedup().find("bob", "k1").get();
    assertEquals(new Reply.Accepted("k1", "group:team", 2, bobs.msgId(), bobs.ts()), bobs);
    assertEquals("k1", after.dedup().find("system:bot", "k1").get().clientMsgId());
    assertEquals(2, after.outbox().nextCounter("carol") - 1);
    assertEquals(2, after.outbox().unacked("carol", 0).size());
    assertTrue(after.outbox().unacked("bob", 0).isEmpty());
    assertEquals(2, after.outbox().nextCounter("bob"));
  }

  // ------------------------------------------------------------------ test data, every field set

  private static final long TS = 1_700_000_000_000L;

  private static InboxEvent sent() {
    return InboxEvent.newBuilder()
        .setTs(TS)
        .setSent(
            DirectSent.newBuilder()
                .setMsgId("m-1")
                .setClientMsgId("c-1")
                .setPeer("bob")
                .setContentType("image/png")
                .setText("look")
                .setPayload(ByteString.copyFrom(new byte[] {0, 1, (byte) 0xff}))
                .setCounter(3))
        .build();
  }

  private static InboxEvent received() {
    return InboxEvent.newBuilder()
        .setTs(TS)
        .setReceived(
            DirectReceived.newBuilder()
                .setMsgId("m-2")
                .setPeer("bob")
                .setContentType("text/plain")
                .setText("héllo ✓")
                .setPayload(ByteString.copyFromUtf8("{\"k\":1}"))
                .setCounter(7))
        .build();
  }

  private static InboxEvent published() {
    return InboxEvent.newBuilder()
        .setTs(TS)
        .setReceived(
            DirectReceived.newBuilder()
                .setMsgId("m-3")
                .setPeer("system:billing")
                .setContentType("text/plain")
                .setText("invoice")
                .setPayload(ByteString.copyFromUtf8("x"))
                .setIdempotencyKey("inv-1"))
        .build();
  }

  private static InboxEvent membership() {
    return InboxEvent.newBuilder()
        .setTs(TS)
        .setMembership(GroupMembership.newBuilder().setGroupId("g1").setMember(true).setActor("owner").setCounter(2))
        .build();
  }

  private static InboxEvent read() {
    return InboxEvent.newBuilder().setTs(TS).setRead(ReadMoved.newBuilder().setTarget("group:g1").setReadSeq(42)).build();
  }

  private static GroupEvent created() {
    return GroupEvent.newBuilder()
        .setTs(TS)
        .setCreated(GroupCreated.newBuilder().setOwner("owner").setTitle("Team").addMembers("bob").addMembers("carol"))
        .build();
  }

  private static MembersChanged change(String actor, String... members) {
    return MembersChanged.newBuilder().setActor(actor).addAllMembers(List.of(members)).build();
  }

  private static GroupEvent posted() {
    return GroupEvent.newBuilder()
        .setTs(TS)
        .setPosted(
            Posted.newBuilder()
                .setMsgId("m-4")
                .setFrom("bob")
                .setClientMsgId("c-4")
                .setContentType("application/json")
                .setText("{}")
                .setPayload(ByteString.copyFrom(new byte[] {9, 8, 7})))
        .build();
  }

  private static UserSnapshot userSnapshot() {
    return UserSnapshot.newBuilder()
        .setLastSeq(5)
        .addRecent(SeqEvent.newBuilder().setSeq(4).setInbox(received()))
        .addRecent(SeqEvent.newBuilder().setSeq(5).setInbox(sent()))
        .addDedup(Dedup.newBuilder().setKey("c-1").setMsgId("m-1").setSeq(5).setTs(TS))
        .addSentCounters(PeerCounter.newBuilder().setPeer("bob").setCounter(3))
        .addReceivedCounters(PeerCounter.newBuilder().setPeer("user:bob").setCounter(7))
        .addGroups("g1")
        .addCursors(Cursor.newBuilder().setStream("inbox").setReadSeq(4))
        .addOutbox(SeqEvent.newBuilder().setSeq(5).setInbox(sent()))
        .build();
  }

  private static GroupSnapshot groupSnapshot() {
    return GroupSnapshot.newBuilder()
        .setLastSeq(2)
        .setCreated(true)
        .setTitle("Team")
        .addMembers(MemberSnapshot.newBuilder().setUser("owner").setRole(Role.OWNER))
        .addMembers(MemberSnapshot.newBuilder().setUser("bob").setRole(Role.ADMIN))
        .addRecent(SeqEvent.newBuilder().setSeq(1).setGroup(created()))
        .addRecent(SeqEvent.newBuilder().setSeq(2).setGroup(posted()))
        .addDedup(Dedup.newBuilder().setKey("bob\nc-4").setMsgId("m-4").setSeq(2).setTs(TS))
        .addNoticeCounters(PeerCounter.newBuilder().setPeer("bob").setCounter(1))
        .addOutbox(PendingNotice.newBuilder().setUser("bob").setCounter(1).setSeq(1).setMember(true).setActor("owner"))
        .build();
  }
}
