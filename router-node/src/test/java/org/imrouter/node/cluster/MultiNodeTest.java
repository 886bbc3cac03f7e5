package org.imrouter.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.IngressClient;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.SubscribeRequest;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Three router nodes in one JVM forming one cluster over Artery, sharing the build's real
 * Cassandra: entities spread over the nodes, direct and group messages cross nodes (so every
 * cluster message is really serialized), a group fans out once per node with online members,
 * and when a node leaves its entities recover on the others from the journal.
 */
class MultiNodeTest {
  private static final Duration UP_TIMEOUT = Duration.ofSeconds(60);
  private static final String KEYSPACE = "multi_node";
  private static final List<RouterTestNode> nodes = new ArrayList<>();

  @BeforeAll
  static void startCluster() {
    RouterTestNode first = new RouterTestNode(KEYSPACE, Map.of());
    nodes.add(first);
    for (int i = 1; i < 3; i++) {
      nodes.add(new RouterTestNode(KEYSPACE, Map.of("pekko.cluster.seed-nodes", List.of(first.clusterAddress()))));
    }
    TestProbe<Object> probe = TestProbe.create(first.system());
    probe.awaitAssert(
        UP_TIMEOUT,
        () -> {
          for (RouterTestNode n : nodes) {
            var members = Cluster.get(n.system()).state().getMembers();
            long up = java.util.stream.StreamSupport.stream(members.spliterator(), false).filter(m -> m.status() == MemberStatus.up()).count();
            assertEquals(3, up, "all three nodes Up as seen from every node");
          }
          return null;
        });
  }

  @AfterAll
  static void stopCluster() {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).close();
    }
  }

  private static WsClient connect(RouterTestNode node, String user) {
    return node.welcomed(user);
  }

  private static String send(String id, String to, String text) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"" + to + "\",\"text\":\"" + text + "\"}}";
  }

  private static GroupEntity.Description describe(RouterTestNode node, String groupId) {
    TestProbe<GroupEntity.Description> probe = TestProbe.create(node.system());
    ClusterSharding.get(node.system()).entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId).tell(new GroupEntity.Describe(probe.ref()));
    return probe.receiveMessage(Duration.ofSeconds(10));
  }

  @Test
  void directMessagesCrossNodesBothWays() {
    try (WsClient alice = connect(nodes.get(0), "mn-alice"); WsClient bob = connect(nodes.get(1), "mn-bob")) {
      for (int i = 0; i < 10; i++) {
        alice.sendJson(send("a" + i, "user:mn-bob", "to bob " + i));
        bob.sendJson(send("b" + i, "user:mn-alice", "to alice " + i));
      }
      for (int i = 0; i < 10; i++) {
        int n = i;
        Message m = bob.expect(f -> f.hasMessage() && f.getMessage().getText().equals("to bob " + n), "bob gets " + n).getMessage();
        assertEquals("mn-alice", m.getFrom());
        alice.expect(f -> f.hasMessage() && f.getMessage().getText().equals("to alice " + n), "alice gets " + n);
      }
    }
  }

  @Test
  void aGroupFansOutOncePerNodeWithOnlineMembers() {
    try (WsClient alice = connect(nodes.get(0), "fo-alice");
        WsClient bob = connect(nodes.get(1), "fo-bob");
        WsClient dave = connect(nodes.get(1), "fo-dave");
        WsClient carol = connect(nodes.get(2), "fo-carol")) {
      alice.sendJson("{\"createGroup\":{\"requestId\":\"r1\",\"groupId\":\"fo-g\",\"title\":\"T\",\"members\":[\"fo-bob\",\"fo-dave\",\"fo-carol\"]}}");
      alice.expect(f -> f.hasResult() && f.getResult().getRequestId().equals("r1"), "created");
      for (WsClient c : List.of(alice, bob, dave, carol)) {
        c.expect(f -> f.hasSystem() && f.getSystem().getGroup().equals("group:fo-g"), "added to group");
      }
      // four members online on three nodes: the group feeds three gateways, not four sessions
      TestProbe<Object> probe = TestProbe.create(nodes.get(0).system());
      probe.awaitAssert(Duration.ofSeconds(15), () -> {
        assertEquals(3, describe(nodes.get(0), "fo-g").watchers(), "one watcher per node with online members");
        return null;
      });
      alice.sendJson(send("p1", "group:fo-g", "hello everyone"));
      for (WsClient c : List.of(alice, bob, dave, carol)) {
        c.expect(f -> f.hasMessage() && f.getMessage().getText().equals("hello everyone"), "post on every node");
      }

      carol.close(); // the last member on node 3 goes away: that node's gateway stops watching
      probe.awaitAssert(Duration.ofSeconds(15), () -> {
        assertEquals(2, describe(nodes.get(0), "fo-g").watchers());
        return null;
      });
    }
  }

  @Test
  void entitiesSpreadAndANodeLeavingLosesNothing() throws Exception {
    // many users: their entities land on all three nodes
    List<String> users = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      users.add("spread-" + i);
    }
    try (WsClient sender = connect(nodes.get(0), "spread-sender")) {
      for (String u : users) {
        sender.sendJson(send("s-" + u, "user:" + u, "hi " + u));
        sender.expectAccepted("s-" + u);
      }
    }
    for (RouterTestNode n : nodes) {
      assertTrue(userEntitiesOn(n) > 0, "user entities live on every node, " + n.clusterAddress() + " has none");
    }

    // a backend follows, through node 1, an inbox whose entity lives on the node that will leave
    RouterTestNode leavingNode = nodes.get(2);
    String followed = userEntityIdsOn(leavingNode).stream().filter(users::contains).findFirst().orElseThrow();
    IngressClient ingress =
        IngressClient.create(
            GrpcClientSettings.connectToServiceAt("127.0.0.1", nodes.get(0).grpcPort(), nodes.get(0).system()).withTls(false),
            nodes.get(0).system());
    List<StreamItem> followedItems = new java.util.concurrent.CopyOnWriteArrayList<>();
    CompletionStage<Done> subscription =
        ingress
            .subscribe()
            .addHeader("authorization", "Bearer " + RouterTestNode.BACKEND_TOKEN)
            .invoke(SubscribeRequest.newBuilder().setStream("inbox:" + followed).build())
            .runForeach(followedItems::add, nodes.get(0).system());
    TestProbe<Object> waiter = TestProbe.create(nodes.get(0).system());
    waiter.awaitAssert(Duration.ofSeconds(15), () -> {
      assertEquals(1, followedItems.size(), "the subscription replayed the inbox");
      return null;
    });

    // a group and two members on the nodes that stay
    try (WsClient alice = connect(nodes.get(0), "lv-alice"); WsClient bob = connect(nodes.get(1), "lv-bob")) {
      alice.sendJson("{\"createGroup\":{\"requestId\":\"r1\",\"groupId\":\"lv-g\",\"title\":\"T\",\"members\":[\"lv-bob\"]}}");
      alice.expect(f -> f.hasResult(), "created");
      bob.expect(f -> f.hasSystem() && f.getSystem().getGroup().equals("group:lv-g"), "bob added");
      alice.expect(f -> f.hasSystem() && f.getSystem().getGroup().equals("group:lv-g"), "alice added");
      alice.sendJson(send("before", "group:lv-g", "before leave"));
      long beforeSeq = alice.expectAccepted("before").getAccepted().getSeq();
      bob.expect(f -> f.hasMessage() && f.getMessage().getText().equals("before leave"), "bob live before");

      RouterTestNode leaving = nodes.remove(2);
      leaving.close(); // leaves the cluster: its shards move to the two nodes left

      // the followed entity moved: the subscription ends with UNAVAILABLE instead of going silent
      Throwable ended =
          assertThrows(
              java.util.concurrent.ExecutionException.class,
              () -> subscription.toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS));
      assertTrue(ended.getCause() instanceof io.grpc.StatusRuntimeException sre && sre.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE,
          "subscription ended with UNAVAILABLE: " + ended.getCause());
      ingress.close();

      alice.sendJson(send("after", "group:lv-g", "after leave"));
      ServerFrame accepted = alice.expect(
          f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals("after") || f.hasError() && f.getError().getRef().equals("after"),
          "answer after the node left");
      if (accepted.hasError()) { // the group was on the leaving node and still moving: retrying is safe
        alice.sendJson(send("after", "group:lv-g", "after leave"));
        accepted = alice.expectAccepted("after");
      }
      assertEquals(beforeSeq + 1, accepted.getAccepted().getSeq(), "the group stream continues without a gap");
      bob.expect(f -> f.hasMessage() && f.getMessage().getText().equals("after leave"), "bob live after the node left");

      // every user entity, wherever it lived, recovers from Cassandra with its message
      for (String u : users) {
        try (WsClient check = connect(nodes.get(users.indexOf(u) % nodes.size()), u)) {
          check.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0,\"limit\":10}}");
          History h = check.expect(ServerFrame::hasHistory, "history of " + u).getHistory();
          assertEquals(1, h.getItemsCount(), u);
          assertEquals("hi " + u, h.getItems(0).getMessage().getText());
        }
      }
    }
  }

  private static Set<String> userEntityIdsOn(RouterTestNode node) {
    TestProbe<org.apache.pekko.cluster.sharding.ShardRegion.CurrentShardRegionState> probe = TestProbe.create(node.system());
    ClusterSharding.get(node.system())
        .shardState()
        .tell(new org.apache.pekko.cluster.sharding.typed.GetShardRegionState(org.imrouter.node.user.UserEntity.ENTITY_TYPE_KEY, probe.ref()));
    Set<String> ids = new java.util.HashSet<>();
    probe.receiveMessage(Duration.ofSeconds(10)).getShards().forEach(shard -> ids.addAll(shard.getEntityIds()));
    return ids;
  }

  private static int userEntitiesOn(RouterTestNode node) {
    TestProbe<org.apache.pekko.cluster.sharding.ShardRegion.CurrentShardRegionState> probe = TestProbe.create(node.system());
    ClusterSharding.get(node.system())
        .shardState()
        .tell(new org.apache.pekko.cluster.sharding.typed.GetShardRegionState(org.imrouter.node.user.UserEntity.ENTITY_TYPE_KEY, probe.ref()));
    return probe.receiveMessage(Duration.ofSeconds(10)).getShards().stream().mapToInt(shard -> shard.getEntityIds().size()).sum();
  }
}
