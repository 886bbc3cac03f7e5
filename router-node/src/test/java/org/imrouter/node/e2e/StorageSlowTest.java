package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.stream.Request;
import org.imrouter.node.testkit.Await;
import org.imrouter.loadtest.fault.LatencyProxy;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.CreateGroup;
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamItem;
import org.junit.jupiter.api.Test;

/**
 * Cassandra answers slowly (every byte it sends held for 500 ms by a {@link LatencyProxy}: a
 * saturated disk, long GC pauses) while clients keep sending. A slow store is not an outage:
 * steady sends are accepted later but accepted, with no error and no connection lost, and the
 * node is as fast as before once the store is. What the store cannot take is pushed back at once
 * instead of queueing without bound (docs/decisions/0018): a burst of posts beyond what one
 * entity holds for its next write (router.entity.max-pending), and a flood of sends on one
 * connection beyond what it may have unanswered (router.session.max-unanswered-sends), are
 * refused UNAVAILABLE; resent with the same ids, they land once, in the order sent. Every
 * accepted message is in its streams exactly once, gap-free, in send order. Prints one {@code
 * SLOW-STORAGE} line with the waits of each phase.
 */
class StorageSlowTest {
  /** Below the journal's request timeout (4 s), so writes are slow, not failed. */
  private static final Duration LATENCY = Duration.ofMillis(500);
  /** Small, so that one burst of posts to one group passes it. */
  private static final int MAX_PENDING = 20;
  /** Small, so that one client's flood of sends to one conversation passes it. */
  private static final int MAX_UNANSWERED = 4;
  /** sends of the flood, back to back, within the client's send burst (100) */
  private static final int FLOOD = 12;
  /** Each client sends to the next one: every inbox both sends and receives. */
  private static final int CLIENTS = 40;
  /** A run: this many sends to the peer back to back, then both answers awaited. */
  private static final int IN_A_ROW = 2;
  private static final int RUNS_PER_PHASE = 4;
  /** the node's answer bound for one send (router.session.ask-timeout) */
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(5);
  /** A client that is refused waits this long before it retries, with the same id. */
  private static final Duration RETRY_PAUSE = Duration.ofMillis(200);
  private static final Duration PHASE_TIMEOUT = Duration.ofSeconds(120);
  private static final int PAGE = 500;
  private static final Duration DELIVERY_TIMEOUT = Duration.ofSeconds(30);

  /**
   * One send's answer: how long from the start of its run until it was accepted, the errors it
   * got before that, and when the first of them came (0 if none).
   */
  private record Answer(String msgId, long waitNanos, List<Error> errors, long firstErrorNanos) {}

  @Test
  void aSlowStoreDelaysSendsWithoutErrorsAndWhatItCannotTakeIsRefusedAtOnceThenLandsOnceInOrder() throws Exception {
    try (LatencyProxy proxy = LatencyProxy.start(EmbeddedCassandra.sharedForTests().contactPoint());
        RouterTestNode node =
            new RouterTestNode(
                "storage_slow",
                Map.of(
                    "datastax-java-driver.basic.contact-points", List.of(proxy.address()),
                    "router.entity.max-pending", MAX_PENDING,
                    "router.session.max-unanswered-sends", MAX_UNANSWERED));
        WsClient flooder = node.welcomed(FLOODER)) {
      List<WsClient> clients = new ArrayList<>();
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
      try {
        for (int i = 0; i < CLIENTS; i++) {
          clients.add(node.welcomed(user(i)));
        }
        List<List<Answer>> sent = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
          sent.add(Collections.synchronizedList(new ArrayList<>()));
        }

        List<Answer> normal = phase(pool, clients, sent, "normal");
        // the group, its entity started and its members told, before the store slows
        createGroup(clients);
        proxy.setLatency(LATENCY);
        List<Answer> slow = phase(pool, clients, sent, "slow");
        Burst burst = burst(pool, clients);
        Flood flood = flood(flooder, "user:" + user(1));
        proxy.setLatency(Duration.ZERO);
        List<Answer> recovered = phase(pool, clients, sent, "recovered");

        System.out.printf(
            "SLOW-STORAGE %d clients, runs of %d; accept wait p50/max: normal %s, storage %d ms slow %s, recovered %s;"
                + " burst of %d posts to one group: %d refused (%s) within %.2f s at most, all accepted after %.1f s;"
                + " flood of %d sends to one conversation: %d refused within %.2f s, the first accepted after %.2f s%n",
            CLIENTS, IN_A_ROW, waits(normal), LATENCY.toMillis(), waits(slow), waits(recovered),
            CLIENTS, burst.refused(), Request.BEHIND, seconds(burst.slowestRefusalNanos()), seconds(burst.allAcceptedNanos()),
            FLOOD, flood.refused(), seconds(flood.lastRefusalNanos()), seconds(flood.firstAcceptNanos()));

        assertAll(
            () -> assertTrue(slow.stream().allMatch(a -> a.errors().isEmpty()),
                "a slow store is not an outage: no send refused; " + errors(slow)),
            () -> assertTrue(percentile(slow, 50) >= LATENCY.toNanos(),
                "each accept waits for a journal write through the slow store: " + waits(slow)),
            () -> assertTrue(percentile(slow, 100) < ASK_TIMEOUT.toNanos(), "answered within the ask timeout: " + waits(slow)),
            () -> assertTrue(recovered.stream().allMatch(a -> a.errors().isEmpty()), errors(recovered)),
            () -> assertTrue(percentile(recovered, 50) < LATENCY.toNanos(), "as fast as before once the store is: " + waits(recovered)),
            () -> assertTrue(burst.refused() > 0, "the burst passed max-pending, and the excess was refused"),
            () -> assertTrue(burst.slowestRefusalNanos() < ASK_TIMEOUT.toNanos(),
                "refused at once, not left to time out: " + seconds(burst.slowestRefusalNanos()) + " s"),
            () -> assertEquals(FLOOD - MAX_UNANSWERED, flood.refused(),
                "past max-unanswered-sends the flood is refused: the first in its own right, the rest held behind it"),
            () -> assertTrue(flood.lastRefusalNanos() < flood.firstAcceptNanos(),
                "refused at once: every refusal arrived before the first send was written through the slow store"),
            () -> assertTrue(clients.stream().noneMatch(WsClient::isClosed) && !flooder.isClosed(), "every connection kept"));

        // every accepted message exactly once, gap-free, in send order: in the sender's inbox
        // and in the recipient's, and every post once in the group
        for (int i = 0; i < CLIENTS; i++) {
          List<String> mine = sent.get(i).stream().map(Answer::msgId).toList();
          List<StreamItem> inbox = readAll(clients.get(i), "inbox");
          assertEquals(mine, messagesFrom(inbox, user(i)), user(i) + "'s own inbox");
          // the recipient's copy is written after the sender's accept: wait for the last ones
          WsClient next = clients.get((i + 1) % CLIENTS);
          String from = user(i);
          Await.until(from + "'s messages in the next inbox", DELIVERY_TIMEOUT,
              () -> mine.equals(messagesFrom(readAll(next, "inbox"), from)),
              () -> messagesFrom(readAll(next, "inbox"), from) + " against " + mine);
        }
        assertEquals(flood.msgIds(), messagesFrom(readAll(flooder, "inbox"), FLOODER), "the flood once each, in the order sent");
        List<StreamItem> group = readAll(clients.get(0), "group:" + GROUP);
        List<String> posts = group.stream().filter(StreamItem::hasMessage).map(it -> it.getMessage().getMsgId()).sorted().toList();
        assertEquals(burst.msgIds().stream().sorted().toList(), posts, "every post once");
      } finally {
        pool.shutdownNow();
        clients.forEach(WsClient::close);
      }
    }
  }

  // ------------------------------------------------------------------ steady sends

  /** Every client sends RUNS_PER_PHASE runs to the next client; the answers of this phase. */
  private static List<Answer> phase(ExecutorService pool, List<WsClient> clients, List<List<Answer>> sent, String name)
      throws Exception {
    List<Future<List<Answer>>> runs = new ArrayList<>();
    for (int i = 0; i < clients.size(); i++) {
      int me = i;
      runs.add(pool.submit(() -> {
        List<Answer> answers = new ArrayList<>();
        for (int r = 0; r < RUNS_PER_PHASE; r++) {
          List<String> ids = new ArrayList<>();
          long start = System.nanoTime();
          for (int k = 0; k < IN_A_ROW; k++) {
            String id = name + "-" + r + "-" + k;
            ids.add(id);
            sendTo(clients.get(me), id, "user:" + user((me + 1) % clients.size()));
          }
          for (String id : ids) {
            Answer a = awaitAccepted(clients.get(me), id, "user:" + user((me + 1) % clients.size()), start);
            answers.add(a);
            sent.get(me).add(a);
          }
        }
        return answers;
      }));
    }
    List<Answer> all = new ArrayList<>();
    for (Future<List<Answer>> f : runs) {
      all.addAll(f.get(PHASE_TIMEOUT.toSeconds(), TimeUnit.SECONDS));
    }
    return all;
  }

  // ------------------------------------------------------------------ burst

  private static final String GROUP = "slow-burst";

  private record Burst(int refused, long slowestRefusalNanos, long allAcceptedNanos, List<String> msgIds) {}

  /** Client 0 creates a group of all clients. */
  private static void createGroup(List<WsClient> clients) {
    List<String> members = new ArrayList<>();
    for (int i = 1; i < clients.size(); i++) {
      members.add(user(i));
    }
    WsClient owner = clients.get(0);
    owner.send(ClientFrame.newBuilder()
        .setCreateGroup(CreateGroup.newBuilder().setRequestId("create").setGroupId(GROUP).setTitle("burst").addAllMembers(members))
        .build());
    owner.expectResult("create");
  }

  /** Every client posts to the group at once; refused posts are retried with the same id until accepted. */
  private static Burst burst(ExecutorService pool, List<WsClient> clients) throws Exception {
    long start = System.nanoTime();
    List<Future<Answer>> posts = new ArrayList<>();
    for (WsClient c : clients) {
      posts.add(pool.submit(() -> {
        sendTo(c, "post", "group:" + GROUP);
        return awaitAccepted(c, "post", "group:" + GROUP, start);
      }));
    }
    int refused = 0;
    long slowestRefusal = 0;
    long allAccepted = 0;
    List<String> ids = new ArrayList<>();
    for (Future<Answer> f : posts) {
      Answer a = f.get(PHASE_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      ids.add(a.msgId());
      allAccepted = Math.max(allAccepted, a.waitNanos());
      slowestRefusal = Math.max(slowestRefusal, a.firstErrorNanos());
      for (Error e : a.errors()) {
        assertEquals("UNAVAILABLE", e.getCode(), "the only refusal of a slow store");
        assertEquals(Request.BEHIND, e.getMessage());
        refused++;
      }
    }
    return new Burst(refused, slowestRefusal, allAccepted, ids);
  }

  private static final String FLOODER = "slow-flood";

  /** msgIds: of the flood's sends in the order they were sent */
  private record Flood(int refused, long lastRefusalNanos, long firstAcceptNanos, List<String> msgIds) {}

  /**
   * One client sends FLOOD messages to one conversation back to back, then resends the refused
   * ones in order, each once the one before is accepted. Its inbox is checked with the others.
   */
  private static Flood flood(WsClient c, String to) throws InterruptedException {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < FLOOD; i++) {
      ids.add("flood-" + i);
    }
    long start = System.nanoTime();
    ids.forEach(id -> sendTo(c, id, to));
    List<String> refused = new ArrayList<>();
    Map<String, String> msgIds = new HashMap<>();
    long lastRefusal = 0;
    long firstAccept = Long.MAX_VALUE;
    Set<String> flood = new HashSet<>(ids);
    // the answers in the order they arrived
    for (int n = 0; n < FLOOD; n++) {
      ServerFrame f = c.expect(
          x -> x.hasAccepted() && flood.contains(x.getAccepted().getClientMsgId()) || x.hasError() && flood.contains(x.getError().getRef()),
          "an answer to the flood");
      long at = System.nanoTime() - start;
      if (f.hasAccepted()) {
        firstAccept = Math.min(firstAccept, at);
        msgIds.put(f.getAccepted().getClientMsgId(), f.getAccepted().getMsgId());
      } else {
        assertEquals("UNAVAILABLE", f.getError().getCode(), f.getError().getRef() + ": " + f.getError().getMessage());
        refused.add(f.getError().getRef());
        lastRefusal = Math.max(lastRefusal, at);
      }
    }
    refused.sort(Comparator.comparingInt(ids::indexOf));
    for (String id : refused) {
      sendTo(c, id, to);
      msgIds.put(id, awaitAccepted(c, id, to, start).msgId());
    }
    return new Flood(refused.size(), lastRefusal, firstAccept, ids.stream().map(msgIds::get).toList());
  }

  // ------------------------------------------------------------------ helpers

  private static String user(int i) {
    return "slow-" + i;
  }

  private static void sendTo(WsClient c, String clientMsgId, String to) {
    c.send(ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setTo(to).setText(clientMsgId)).build());
  }

  /** Waits for the answer to {@code id}; resends it after each refusal, as a client does. */
  private static Answer awaitAccepted(WsClient c, String id, String to, long startNanos) throws InterruptedException {
    List<Error> errors = new ArrayList<>();
    long firstError = 0;
    long deadline = System.nanoTime() + PHASE_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      ServerFrame f = c.expect(
          x -> x.hasAccepted() && x.getAccepted().getClientMsgId().equals(id) || x.hasError() && x.getError().getRef().equals(id),
          "answer to " + id);
      if (f.hasAccepted()) {
        return new Answer(f.getAccepted().getMsgId(), System.nanoTime() - startNanos, errors, firstError);
      }
      if (errors.isEmpty()) {
        firstError = System.nanoTime() - startNanos;
      }
      errors.add(f.getError());
      // a client's backoff before it retries, as after any UNAVAILABLE
      TimeUnit.MILLISECONDS.sleep(RETRY_PAUSE.toMillis());
      sendTo(c, id, to);
    }
    throw new AssertionError(id + " never accepted");
  }

  /** Every item of {@code stream}, page by page. */
  private static List<StreamItem> readAll(WsClient c, String stream) {
    List<StreamItem> items = new ArrayList<>();
    long after = 0;
    while (true) {
      History page = c.sync(stream, after, PAGE);
      for (StreamItem it : page.getItemsList()) {
        long seq = it.hasMessage() ? it.getMessage().getSeq() : it.getSystem().getSeq();
        assertEquals(after + 1, seq, stream + " is gap-free");
        after = seq;
        items.add(it);
      }
      if (!page.getHasMore()) {
        return items;
      }
    }
  }

  /** msgIds of the messages {@code from} sent, in stream order */
  private static List<String> messagesFrom(List<StreamItem> items, String from) {
    return items.stream().filter(StreamItem::hasMessage).map(StreamItem::getMessage)
        .filter(m -> m.getFrom().equals(from)).map(m -> m.getMsgId()).toList();
  }

  private static long percentile(List<Answer> answers, int p) {
    long[] w = answers.stream().mapToLong(Answer::waitNanos).sorted().toArray();
    return w[Math.min(w.length - 1, (int) Math.ceil(p / 100.0 * w.length) - 1)];
  }

  private static String waits(List<Answer> answers) {
    return String.format("%.2f/%.2f s", seconds(percentile(answers, 50)), seconds(percentile(answers, 100)));
  }

  private static double seconds(long nanos) {
    return nanos / 1e9;
  }

  private static String errors(List<Answer> answers) {
    return answers.stream().flatMap(a -> a.errors().stream()).map(e -> e.getCode() + " " + e.getMessage()).distinct().toList().toString();
  }
}
