package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.Done;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import org.imrouter.node.testkit.IngressCalls;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.CreateGroupRequest;
import org.imrouter.protocol.v1.GetHistoryRequest;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.IngressClient;
import org.imrouter.protocol.v1.MembersRequest;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.PublishReply;
import org.imrouter.protocol.v1.PublishRequest;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.SubscribeRequest;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code Subscribe} end to end with the generated client against a real node on the real
 * Cassandra: replay then live with no gap and no duplicate at the boundary while publishers keep
 * writing, from the start and from the middle of a stream, for inboxes and groups; and messages
 * sent over WebSocket arriving in a gRPC subscription.
 *
 * <p>The checker: the items are exactly seqs from+1, from+2, … (consecutive, none twice, none
 * missing), each carries the msgId its publish was answered with, and per sender the texts come
 * in publish order.
 */
class IngressSubscribeTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(15);
  /** Small, so that the replay reads the journal, not only the entity's memory. */
  private static final int RECENT_ITEMS = 5;
  /** Small, so that the replay takes several pages and the publishers overlap it. */
  private static final int PAGE_SIZE = 7;
  private static final String TOKEN = RouterTestNode.BACKEND_TOKEN;

  private static RouterTestNode node;
  private static IngressClient client;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "ingress_subscribe", Map.of("router.entity.recent-items", RECENT_ITEMS, "router.grpc.page-size", PAGE_SIZE));
    client = IngressCalls.client(node);
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().join();
    node.close();
  }

  // ------------------------------------------------------------------ helpers

  private static <T> T await(CompletionStage<T> stage) {
    return IngressCalls.await(stage);
  }

  private static CompletionStage<PublishReply> publish(String to, String as, String key, String text) {
    return client
        .publish()
        .addHeader("authorization", "Bearer " + TOKEN)
        .invoke(PublishRequest.newBuilder().setTo(to).setAs(as).setIdempotencyKey(key).setText(text).build());
  }

  private static Source<StreamItem, ?> subscription(String stream, long afterSeq) {
    return client
        .subscribe()
        .addHeader("authorization", "Bearer " + TOKEN)
        .invoke(SubscribeRequest.newBuilder().setStream(stream).setAfterSeq(afterSeq).build());
  }

  /** A subscription collecting its first items; when they do not all arrive, says which did. */
  private static final class Collected {
    private final List<StreamItem> items = Collections.synchronizedList(new ArrayList<>());
    private final CompletionStage<Done> done;

    Collected(String stream, long afterSeq, int take) {
      done = subscription(stream, afterSeq).take(take).runForeach(items::add, node.system());
    }

    List<StreamItem> await() {
      try {
        done.toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        throw new AssertionError("subscription failed: " + Status.fromThrowable(e.getCause()) + " after seqs " + seqsOf(items), e.getCause());
      } catch (InterruptedException | TimeoutException e) {
        throw new AssertionError("in " + TIMEOUT + " only seqs " + seqsOf(items) + " arrived", e);
      }
      return List.copyOf(items);
    }
  }

  private static Collected subscribe(String stream, long afterSeq, int take) {
    return new Collected(stream, afterSeq, take);
  }

  private static void createGroup(String group, String owner, List<String> members) {
    await(
        client
            .createGroup()
            .addHeader("authorization", "Bearer " + TOKEN)
            .invoke(CreateGroupRequest.newBuilder().setGroupId(group).setAs("user:" + owner).setTitle(group).addAllMembers(members).build()));
  }

  private static long seqOf(StreamItem item) {
    return item.hasMessage() ? item.getMessage().getSeq() : item.getSystem().getSeq();
  }

  /** What was published: msgId by seq, and each sender's texts in publish order. */
  private static final class Published {
    final Map<Long, String> msgIds = new ConcurrentHashMap<>();
    final Map<String, List<String>> textsBySender = new ConcurrentHashMap<>();

    /** Publishes {@code count} messages from {@code as} one after the other (FIFO per sender). */
    CompletableFuture<Void> sequentially(String to, String as, String prefix, int from, int count) {
      CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
      for (int i = from; i < from + count; i++) {
        String text = prefix + i;
        chain = chain.thenCompose(done -> publish(to, as, text, text).thenAccept(reply -> record(as, text, reply)));
      }
      return chain;
    }

    private void record(String as, String text, PublishReply reply) {
      msgIds.put(reply.getSeq(), reply.getMsgId());
      textsBySender.computeIfAbsent(as.startsWith("user:") ? as.substring("user:".length()) : as, s -> new ArrayList<>()).add(text);
    }
  }

  /**
   * The checker: exactly seqs afterSeq+1 … afterSeq+items.size() in order, each message with the
   * msgId its publish got, and per sender the texts in publish order.
   */
  private static void assertGapFreeAndInOrder(List<StreamItem> items, long afterSeq, Published published) {
    for (int i = 0; i < items.size(); i++) {
      assertEquals(afterSeq + 1 + i, seqOf(items.get(i)), "consecutive seqs, none twice, none missing: " + seqsOf(items));
    }
    Map<String, List<String>> seen = new LinkedHashMap<>();
    for (StreamItem item : items) {
      if (item.hasMessage()) {
        Message m = item.getMessage();
        String expected = published.msgIds.get(m.getSeq());
        if (expected != null) {
          assertEquals(expected, m.getMsgId(), "the item at seq " + m.getSeq() + " is the one published");
        }
        seen.computeIfAbsent(m.getFrom(), s -> new ArrayList<>()).add(m.getText());
      }
    }
    for (Map.Entry<String, List<String>> sender : seen.entrySet()) {
      List<String> all = published.textsBySender.get(sender.getKey());
      List<String> texts = sender.getValue();
      int start = all.indexOf(texts.get(0));
      assertTrue(start >= 0 && start + texts.size() <= all.size(), "only published texts of " + sender.getKey() + ": " + texts);
      assertEquals(all.subList(start, start + texts.size()), texts, "publish order of " + sender.getKey());
    }
  }

  private static List<Long> seqsOf(List<StreamItem> items) {
    return items.stream().map(IngressSubscribeTest::seqOf).toList();
  }

  /** A subscription read one item at a time. */
  private static final class Tail implements AutoCloseable {
    private final SinkQueueWithCancel<StreamItem> queue;

    Tail(String stream, long afterSeq) {
      queue = subscription(stream, afterSeq).runWith(Sink.queue(), node.system());
    }

    StreamItem next() {
      Optional<StreamItem> item = await(queue.pull());
      assertTrue(item.isPresent(), "the subscription does not complete");
      return item.get();
    }

    /** The next message item (skipping system items such as membership notices). */
    Message nextMessage() {
      StreamItem item = next();
      return item.hasMessage() ? item.getMessage() : nextMessage();
    }

    @Override
    public void close() {
      queue.cancel();
    }
  }

  // ------------------------------------------------------------------ replay and live

  @Test
  void anInboxSubscriptionCrossesFromReplayToLiveWithNoGapAndNoDuplicateWhilePublishersRun() {
    int history = 30;
    int more = 20;
    // several rounds, each a new stream: the boundary falls at a different point each time
    for (int round = 0; round < 3; round++) {
      String user = "rl-sue-" + round;
      Published published = new Published();
      await(published.sequentially("user:" + user, "system:feed-a", "a", 0, history));

      Collected items = subscribe("inbox:" + user, 0, history + 2 * more);
      CompletableFuture<Void> a = published.sequentially("user:" + user, "system:feed-a", "a", history, more);
      CompletableFuture<Void> b = published.sequentially("user:" + user, "system:feed-b", "b", 0, more);
      await(CompletableFuture.allOf(a, b));

      List<StreamItem> got = items.await();
      assertEquals(history + 2 * more, got.size());
      assertGapFreeAndInOrder(got, 0, published);
      assertTrue(got.stream().allMatch(i -> i.getMessage().getStream().equals("inbox:" + user)), "items name the inbox");
      assertEquals(history + more, got.stream().filter(i -> i.getMessage().getFrom().equals("system:feed-a")).count());
    }
  }

  @Test
  void aGroupSubscriptionCrossesFromReplayToLiveIncludingSystemItems() {
    createGroup("rl-g", "rl-owner", List.of("rl-m1", "rl-m2"));
    int history = 30;
    int more = 20;
    Published published = new Published();
    await(published.sequentially("group:rl-g", "user:rl-m1", "x", 0, history));

    // 1 CREATED + history + 2 * more posts + 1 MEMBER_ADDED
    int total = 1 + history + 2 * more + 1;
    Collected items = subscribe("group:rl-g", 0, total);
    CompletableFuture<Void> m1 = published.sequentially("group:rl-g", "user:rl-m1", "x", history, more);
    CompletableFuture<Void> m2 = published.sequentially("group:rl-g", "system:rl-bot", "y", 0, more);
    await(
        client
            .addMembers()
            .addHeader("authorization", "Bearer " + TOKEN)
            .invoke(MembersRequest.newBuilder().setGroupId("rl-g").setAs("user:rl-owner").addMembers("rl-m3").build()));
    await(CompletableFuture.allOf(m1, m2));

    List<StreamItem> got = items.await();
    assertGapFreeAndInOrder(got, 0, published);
    assertEquals(SystemKind.CREATED, got.get(0).getSystem().getKind());
    assertEquals(1, got.stream().filter(i -> i.hasSystem() && i.getSystem().getKind() == SystemKind.MEMBER_ADDED).count());
    assertEquals(history + 2 * more, got.stream().filter(StreamItem::hasMessage).count());
    assertTrue(got.stream().filter(StreamItem::hasMessage).allMatch(i -> i.getMessage().getConversation().equals("group:rl-g")));
  }

  @Test
  void aSubscriptionFromTheMiddleOrTheEndGetsOnlyWhatFollows() {
    String user = "mid-tom";
    Published published = new Published();
    await(published.sequentially("user:" + user, "system:mid", "m", 0, 10));

    Collected fromMiddle = subscribe("inbox:" + user, 4, 6 + 3);
    Collected fromEnd = subscribe("inbox:" + user, 10, 3);
    await(published.sequentially("user:" + user, "system:mid", "m", 10, 3));

    List<StreamItem> middle = fromMiddle.await();
    assertGapFreeAndInOrder(middle, 4, published);
    assertEquals("m4", middle.get(0).getMessage().getText());
    List<StreamItem> end = fromEnd.await();
    assertGapFreeAndInOrder(end, 10, published);
    assertEquals(List.of("m10", "m11", "m12"), end.stream().map(i -> i.getMessage().getText()).toList());

    // GetHistory caps a larger limit at the page size
    History page =
        await(
            client
                .getHistory()
                .addHeader("authorization", "Bearer " + TOKEN)
                .invoke(GetHistoryRequest.newBuilder().setStream("inbox:" + user).setAfterSeq(0).setLimit(100).build()));
    assertEquals(PAGE_SIZE, page.getItemsCount());
    assertTrue(page.getHasMore());

    // a group from the middle, too
    createGroup("mid-g", "mid-owner", List.of());
    Published posts = new Published();
    await(posts.sequentially("group:mid-g", "user:mid-owner", "p", 0, 8));
    List<StreamItem> group = subscribe("group:mid-g", 5, 4).await();
    assertGapFreeAndInOrder(group, 5, posts);
    assertEquals("p4", group.get(0).getMessage().getText(), "seq 6 is the fifth post (seq 1 is CREATED)");
  }

  // ------------------------------------------------------------------ WebSocket -> gRPC

  @Test
  void messagesSentOverWebSocketArriveLiveInGrpcSubscriptions() {
    createGroup("wg-g", "wg-alice", List.of());
    try (Tail bobInbox = new Tail("inbox:wg-bob", 0);
        Tail aliceInbox = new Tail("inbox:wg-alice", 0);
        Tail group = new Tail("group:wg-g", 0)) {
      // a marker on each stream: once it arrives the subscription is past its replay, so
      // everything after it is delivered live
      await(publish("user:wg-bob", "system:marker", "mb", "marker"));
      assertEquals("marker", bobInbox.nextMessage().getText());
      await(publish("user:wg-alice", "system:marker", "ma", "marker"));
      assertEquals("marker", aliceInbox.nextMessage().getText());
      assertEquals(SystemKind.CREATED, group.next().getSystem().getKind());

      try (WsClient alice = WsClient.connect(node.wsUri(Tokens.valid("wg-alice")))) {
        alice.welcome();
        alice.sendJson("{\"send\":{\"clientMsgId\":\"w1\",\"to\":\"user:wg-bob\",\"text\":\"hi bob, from the browser\"}}");
        Accepted direct = alice.expectAccepted("w1").getAccepted();

        Message atBob = bobInbox.nextMessage();
        assertEquals("hi bob, from the browser", atBob.getText());
        assertEquals("wg-alice", atBob.getFrom());
        assertEquals("user:wg-alice", atBob.getConversation());
        assertEquals("inbox:wg-bob", atBob.getStream());
        assertEquals(direct.getMsgId(), atBob.getMsgId());

        Message sentCopy = aliceInbox.nextMessage();
        assertEquals(direct.getSeq(), sentCopy.getSeq());
        assertEquals(direct.getMsgId(), sentCopy.getMsgId());
        assertEquals("user:wg-bob", sentCopy.getConversation());

        alice.sendJson("{\"send\":{\"clientMsgId\":\"w2\",\"to\":\"group:wg-g\",\"text\":\"hello group\"}}");
        Accepted post = alice.expectAccepted("w2").getAccepted();
        Message inGroup = group.nextMessage();
        assertEquals(post.getSeq(), inGroup.getSeq());
        assertEquals(post.getMsgId(), inGroup.getMsgId());
        assertEquals("wg-alice", inGroup.getFrom());
        assertEquals("hello group", inGroup.getText());
      }
    }
  }
}
