package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.LongSummaryStatistics;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.Test;

/**
 * A node shutting down (SIGTERM runs the same coordinated shutdown) tells every connected client
 * to reconnect elsewhere with close code 1001 before it hands off its shards, and loses nothing
 * that was accepted; each client is told its own delay before reconnecting, so they do not all
 * come back at once.
 */
class DrainTest {
  private static final int GOING_AWAY = 1001;
  /** RFC 6455: the close reason fits a control frame with the code. */
  private static final int MAX_REASON_BYTES = 123;
  /** The suggested delay at the end of the reason: decision 0004. */
  private static final Pattern HINT = Pattern.compile("retry-after-ms=(\\d+)$");

  private static final Duration BACKOFF_MIN = Duration.ofMillis(200);
  private static final Duration BACKOFF_MAX = Duration.ofMillis(8200);

  /**
   * Clients drained together. Each delay is drawn uniformly over the window; the chance that all
   * of them land within a tenth of it is n x 0.1^(n-1) - (n-1) x 0.1^n, below 1e-8 for 10: a
   * narrower spread means the delays are not drawn per connection, not bad luck.
   */
  private static final int CLIENTS = 10;
  private static final int SPREAD_FRACTION = 10;

  @Test
  void everyClientIsToldToReconnectAndNothingAcceptedIsLost() {
    RouterTestNode node = new RouterTestNode("drain");
    WsClient alice = WsClient.connect(node.wsUri(Tokens.valid("drain-alice")));
    WsClient bob = WsClient.connect(node.wsUri(Tokens.valid("drain-bob")));
    alice.welcome();
    bob.welcome();
    alice.sendJson("{\"send\":{\"clientMsgId\":\"d1\",\"to\":\"user:drain-bob\",\"text\":\"before drain\"}}");
    long seq = alice.expectAccepted("d1").getAccepted().getSeq();

    node.restart(); // the first node drains and stops, a new one starts on the same data
    for (WsClient c : List.of(alice, bob)) {
      assertEquals(GOING_AWAY, c.awaitClose(), "told to reconnect");
    }

    try (WsClient again = WsClient.connect(node.wsUri(Tokens.valid("drain-alice")))) {
      assertEquals(seq, again.welcome().getWelcome().getStreams(0).getLastSeq());
    } finally {
      node.close();
    }
  }

  @Test
  void eachDrainedClientIsToldItsOwnDelayWithinTheWindow() {
    RouterTestNode node =
        new RouterTestNode(
            "drain_backoff",
            Map.of(
                "router.http.reconnect-backoff-min", BACKOFF_MIN.toMillis() + "ms",
                "router.http.reconnect-backoff-max", BACKOFF_MAX.toMillis() + "ms"));
    List<WsClient> clients = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      clients.add(node.welcomed("drain-spread-" + i));
    }

    node.close(); // drains

    LongSummaryStatistics delays = new LongSummaryStatistics();
    for (WsClient c : clients) {
      assertEquals(GOING_AWAY, c.awaitClose());
      String reason = c.awaitCloseReason();
      assertTrue(reason.getBytes(StandardCharsets.UTF_8).length <= MAX_REASON_BYTES, reason);
      Matcher m = HINT.matcher(reason);
      assertTrue(m.find(), "the reason ends with the suggested delay: " + reason);
      long millis = Long.parseLong(m.group(1));
      assertTrue(millis >= BACKOFF_MIN.toMillis() && millis <= BACKOFF_MAX.toMillis(), "within the window: " + reason);
      delays.accept(millis);
    }
    long window = BACKOFF_MAX.toMillis() - BACKOFF_MIN.toMillis();
    assertTrue(
        delays.getMax() - delays.getMin() >= window / SPREAD_FRACTION,
        "delays drawn per connection spread over the window: " + delays);
  }
}
