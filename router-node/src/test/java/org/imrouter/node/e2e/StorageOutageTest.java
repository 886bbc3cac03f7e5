package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.Test;

/**
 * Cassandra stalls, then goes down under a connected client and comes back. A stall shorter than
 * the storage timeout delays a send instead of failing it. Sends during the outage are answered
 * UNAVAILABLE (never a silent loss, never a half-written item), the connection and node keep
 * serving, and after Cassandra returns a retry with the same clientMsgId is accepted exactly once.
 * The node runs with the default storage timeouts and circuit breaker.
 */
class StorageOutageTest {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
  /**
   * Longer than the Cassandra driver's default request timeout (2 s), which failed such writes and
   * restarted their entities, and shorter than the journal's timeout (4 s, persistence.conf).
   */
  private static final Duration STALL = Duration.ofMillis(2500);

  private static String send(String id, String text) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"user:out-bob\",\"text\":\"" + text + "\"}}";
  }

  @Test
  void aStallDelaysSendsAndAnOutageRefusesThemAndRetriesAfterwardsLandOnce() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target"), "outage-cassandra").toAbsolutePath();
    EmbeddedCassandra.Settings settings = EmbeddedCassandra.Settings.throwaway(dir).withThrowaway(false);
    EmbeddedCassandra cassandra = EmbeddedCassandra.start(settings);
    cassandra.awaitReady(READY_TIMEOUT);
    try (RouterTestNode node =
        new RouterTestNode(
            "storage_outage",
            Map.of("datastax-java-driver.basic.contact-points", List.of(cassandra.contactPoint())))) {
      try (WsClient alice = connectUntilWelcomed(node)) {
        alice.sendJson(send("warm", "before the stall"));
        alice.expectAccepted("warm");

        // the stall's length is the fault itself: Cassandra is resumed on a timer, and the test
        // waits on the send's answer
        EmbeddedCassandra stalled = cassandra;
        ScheduledExecutorService resumer = Executors.newSingleThreadScheduledExecutor();
        try {
          pause(stalled, "STOP");
          ScheduledFuture<?> resumed = resumer.schedule(() -> pause(stalled, "CONT"), STALL.toMillis(), TimeUnit.MILLISECONDS);
          alice.sendJson(send("stalled", "during the stall"));
          assertTrue(answer(alice, "stalled").hasAccepted(), "a stall shorter than the storage timeout only delays the send");
          resumed.get();
        } finally {
          resumer.shutdownNow();
          pause(stalled, "CONT"); // harmless if already resumed; never leave Cassandra stopped
        }

        alice.sendJson(send("before", "before the outage"));
        Accepted before = alice.expectAccepted("before").getAccepted();

        cassandra.stop(STOP_TIMEOUT);
        alice.sendJson(send("during", "during the outage"));
        alice.expectError("during", "UNAVAILABLE");
        alice.roundTrip(1); // the connection is still served

        cassandra = EmbeddedCassandra.start(settings);
        cassandra.awaitReady(READY_TIMEOUT);

        Accepted during = retryUntilAccepted(alice, "during");
        assertEquals(before.getSeq() + 1, during.getSeq(), "no gap and no half-written item");
        alice.sendJson(send("during", "during the outage"));
        assertEquals(during, alice.expectAccepted("during").getAccepted(), "the retry is idempotent");

        alice.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0,\"limit\":100}}");
        History h = alice.expect(ServerFrame::hasHistory, "history").getHistory();
        assertEquals(4, h.getItemsCount());
        assertEquals(before.getMsgId(), h.getItems(2).getMessage().getMsgId());
        assertEquals(during.getMsgId(), h.getItems(3).getMessage().getMsgId());
      }
    } finally {
      cassandra.close();
    }
  }

  /**
   * Connects until welcomed, as a client does after 1001 "storage unavailable": on a fresh
   * Cassandra, and on a busy machine, the first entity start can outlast the node's ask timeout.
   */
  private static WsClient connectUntilWelcomed(RouterTestNode node) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (true) {
      WsClient c = WsClient.connect(node.wsUri(Tokens.valid("out-alice")));
      try {
        c.welcome();
        return c;
      } catch (AssertionError closedBeforeWelcome) {
        c.close();
        if (!c.isClosed() || System.nanoTime() > deadline) {
          throw closedBeforeWelcome;
        }
      }
    }
  }

  /** Resends until accepted, as a client would after UNAVAILABLE; each answer is awaited. */
  private static Accepted retryUntilAccepted(WsClient c, String id) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      c.sendJson(send(id, "during the outage"));
      ServerFrame answer = answer(c, id);
      if (answer.hasAccepted()) {
        return answer.getAccepted();
      }
    }
    throw new AssertionError(id + " never accepted after Cassandra came back");
  }

  /** The next answer to a send: its accepted or its error. */
  private static ServerFrame answer(WsClient c, String id) {
    return c.expect(
        f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(id)
            || f.hasError() && f.getError().getRef().equals(id),
        "answer to " + id);
  }

  /** SIGSTOP / SIGCONT: a server that stalls (a long GC pause, a starved host) but keeps its sockets. */
  private static Void pause(EmbeddedCassandra cassandra, String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(cassandra.pid())).inheritIO().start();
    assertEquals(0, kill.waitFor(), "kill -" + signal);
    return null;
  }
}
