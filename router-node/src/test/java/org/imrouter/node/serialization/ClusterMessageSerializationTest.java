package org.imrouter.node.serialization;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import com.typesafe.config.ConfigFactory;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.serialization.SerializationExtension;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.Push;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.SeqRange;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.persist.DirectSent;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.Posted;
import org.imrouter.protocol.persist.Role;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Every message that may cross nodes round-trips through the serializer the node binds it to
 * (Jackson CBOR, with protobuf values as protobuf bytes), and none falls back to Java
 * serialization (which is off).
 */
class ClusterMessageSerializationTest {
  private static final ActorTestKit testKit =
      ActorTestKit.create(
          ConfigFactory.parseString(
                  "pekko.actor.provider = local\npekko.coordinated-shutdown.exit-jvm = off\n"
                      + "pekko.persistence.journal.auto-start-journals = []\n"
                      + "pekko.persistence.snapshot-store.auto-start-snapshot-stores = []")
              .withFallback(ConfigFactory.load()));
  private static final SerializationTestKit serialization = new SerializationTestKit(testKit.system());

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static <T> ActorRef<T> ref() {
    return testKit.<T>createTestProbe().ref();
  }

  private static final InboxEvent INBOX_EVENT =
      InboxEvent.newBuilder()
          .setTs(1)
          .setSent(DirectSent.newBuilder().setMsgId("m").setPeer("bob").setText("hi").setCounter(3).setPayload(ByteString.copyFromUtf8("p")))
          .build();
  private static final GroupEvent GROUP_EVENT =
      GroupEvent.newBuilder().setTs(2).setPosted(Posted.newBuilder().setMsgId("g").setFrom("alice").setText("hello")).build();

  /** Records whose fields all have value equality. */
  private static List<Object> valueMessages() {
    Map<String, Role> members = new LinkedHashMap<>();
    members.put("alice", Role.OWNER);
    members.put("bob", Role.MEMBER);
    return List.of(
        new UserEntity.MembershipNotice("g1", 2, true, "alice", ref()),
        new UserEntity.MarkRead("group:g1", 7, ref()),
        new UserEntity.Sync(3, 50, ref()),
        new UserEntity.Connect(ref(), ref()),
        new UserEntity.Disconnect(ref()),
        new UserEntity.Follow(ref(), ref()),
        new UserEntity.GetLastSeq(ref()),
        new UserEntity.Following(7, ref()),
        new UserEntity.TypingTo("bob"),
        new UserEntity.TypingFrom("alice"),
        new UserEntity.TransferAcked(new TransferAck("bob", 4, true)),
        UserEntity.Stop.INSTANCE,
        new UserEntity.Connected(ref(), 12, Map.of("inbox", 3L), List.of("g1", "g2")),
        new UserEntity.Refused(ErrorCode.RATE_LIMITED, "too many"),
        new GroupEntity.Create("alice", "Team", List.of("bob"), ref()),
        new GroupEntity.AddMembers("alice", List.of("dave"), ref()),
        new GroupEntity.RemoveMembers("alice", List.of("dave"), ref()),
        new GroupEntity.Leave("bob", ref()),
        new GroupEntity.Sync("bob", 0, 100, ref()),
        new GroupEntity.GetInfo("bob", ref()),
        new GroupEntity.Describe(ref()),
        new GroupEntity.Watch(ref(), Set.of("alice", "bob")),
        new GroupEntity.Unwatch(ref()),
        new GroupEntity.TypingFrom("alice"),
        new GroupEntity.NoticeAcked(new TransferAck("bob", 1, false)),
        GroupEntity.Stop.INSTANCE,
        new GroupEntity.Info("g1", true, 5, Role.ADMIN),
        new GroupEntity.Info("g1", false, 0, null),
        new GroupEntity.Description("g1", true, 9, "Team", members, 2),
        new GroupEntity.Watching("g1", ref(), 9, Set.of("alice", "carol"), Set.of("alice")),
        new GroupEntity.FeedItem(new StreamItem.Group("g1", 9, GROUP_EVENT)),
        new GroupEntity.FeedTyping("g1", "alice"),
        new StreamItem.Inbox("alice", 4, INBOX_EVENT),
        new StreamItem.Group("g1", 9, GROUP_EVENT),
        new Push.Typing("alice", "user:alice"),
        new TransferAck("bob", 4, false),
        new Reply.Accepted("c1", "inbox", 3, "m", 10),
        new Reply.Rejection(ErrorCode.NOT_A_MEMBER, "not a member"),
        new Reply.Done(),
        new Reply.HistoryPage("inbox", List.of(new StreamItem.Inbox("alice", 4, INBOX_EVENT), new StreamItem.Group("g1", 9, GROUP_EVENT)), true),
        new Reply.HistoryInJournal("group:g1", "g1", "Group|g1", 1, 100, false, List.of(new SeqRange(3, 7))));
  }

  @Test
  void everyClusterMessageRoundTripsThroughJacksonCbor() {
    for (Object message : valueMessages()) {
      serialization.verifySerialization(message, true);
      assertEquals(
          "org.apache.pekko.serialization.jackson.JacksonCborSerializer",
          SerializationExtension.get(testKit.system().classicSystem()).findSerializerFor(message).getClass().getName(),
          "serializer of " + message.getClass().getName());
    }
  }

  @Test
  void messagesWithPayloadBytesKeepThem() {
    byte[] payload = {1, 2, 3};
    var send = new UserEntity.SendDirect("c1", "user:bob", "text/plain", "hi", payload, ref());
    var back = serialization.verifySerialization(send, false);
    assertEquals(send.clientMsgId(), back.clientMsgId());
    assertArrayEquals(payload, back.payload());
    assertEquals(send.replyTo(), back.replyTo());

    var system = new UserEntity.SystemMessage("system:ops", "k1", "text/plain", "deploy", payload, ref());
    assertArrayEquals(payload, serialization.verifySerialization(system, false).payload());

    var deliver = new UserEntity.Deliver("alice", 5, "m", 10, "text/plain", "hi", payload, ref());
    var deliverBack = serialization.verifySerialization(deliver, false);
    assertEquals(5, deliverBack.counter());
    assertArrayEquals(payload, deliverBack.payload());

    var post = new GroupEntity.Post("alice", "c2", "text/plain", "hello", payload, ref());
    assertArrayEquals(payload, serialization.verifySerialization(post, false).payload());
  }
}
