package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.Test;

/**
 * Cassandra goes down under a connected client and comes back: sends in between are answered
 * UNAVAILABLE (never a silent loss, never a half-written item), the connection and node keep
 * serving, and after Cassandra returns a retry with the same clientMsgId is accepted exactly once.
 */
class StorageOutageTest {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

  private static String send(String id, String text) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"user:out-bob\",\"text\":\"" + text + "\"}}";
  }

  @Test
  void sendsDuringAnOutageAreRefusedAndRetriesAfterwardsLandOnce() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target"), "outage-cassandra").toAbsolutePath();
    EmbeddedCassandra.Settings settings = EmbeddedCassandra.Settings.throwaway(dir).withThrowaway(false);
    EmbeddedCassandra cassandra = EmbeddedCassandra.start(settings);
    cassandra.awaitReady(READY_TIMEOUT);
    try (RouterTestNode node =
        new RouterTestNode(
            "storage_outage",
            Map.of(
                "datastax-java-driver.basic.contact-points", List.of(cassandra.contactPoint()),
                "router.session.ask-timeout", "3s",
                "pekko.persistence.cassandra.journal.circuit-breaker.call-timeout", "2s",
                "pekko.persistence.cassandra.journal.circuit-breaker.reset-timeout", "1s"))) {
      try (WsClient alice = connectUntilWelcomed(node)) {
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
        assertEquals(2, h.getItemsCount());
        assertEquals(before.getMsgId(), h.getItems(0).getMessage().getMsgId());
        assertEquals(during.getMsgId(), h.getItems(1).getMessage().getMsgId());
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
      ServerFrame answer =
          c.expect(
              f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(id)
                  || f.hasError() && f.getError().getRef().equals(id),
              "answer to " + id);
      if (answer.hasAccepted()) {
        return answer.getAccepted();
      }
    }
    throw new AssertionError(id + " never accepted after Cassandra came back");
  }
}
