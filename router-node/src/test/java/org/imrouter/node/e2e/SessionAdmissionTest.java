package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.imrouter.node.testkit.Await;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.Test;

/**
 * A node takes on new sessions at a bounded rate: upgrades beyond its bucket are refused with 503
 * and a Retry-After from the reconnect window before any session exists, and the bucket refills,
 * so a refused client is let in when it comes back.
 */
class SessionAdmissionTest {
  private static final int SERVICE_UNAVAILABLE = 503;
  private static final int SWITCHING_PROTOCOLS = 101;
  private static final int PER_SECOND = 1;
  private static final int BURST = 2;
  private static final Duration BACKOFF_MIN = Duration.ofMillis(500);
  private static final Duration BACKOFF_MAX = Duration.ofSeconds(3);
  /**
   * Upgrades sent at once. At most BURST + PER_SECOND x (seconds between the first and the last
   * admission check) are let in, so some are refused unless 12 concurrent loopback requests took
   * over 10 s to be read: the outcome does not depend on timing.
   */
  private static final int AT_ONCE = 12;
  /** The bucket gives one token a second; far longer means it does not refill. */
  private static final Duration REFILL_WAIT = Duration.ofSeconds(30);

  @Test
  void upgradesBeyondTheBucketAreRefusedWithRetryAfterAndLetInOnceItRefills() throws Exception {
    try (RouterTestNode node =
            new RouterTestNode(
                "session_admission",
                Map.of(
                    "router.http.session-admissions-per-second", PER_SECOND,
                    "router.http.session-admission-burst", BURST,
                    "router.http.reconnect-backoff-min", BACKOFF_MIN.toMillis() + "ms",
                    "router.http.reconnect-backoff-max", BACKOFF_MAX.toMillis() + "ms"))) {
      List<WsClient.Handshake> answers = burst(node);

      List<WsClient.Handshake> refused = answers.stream().filter(h -> h.status() == SERVICE_UNAVAILABLE).toList();
      assertFalse(refused.isEmpty(), "upgrades beyond the bucket are refused: " + answers);
      assertEquals(
          AT_ONCE,
          refused.size() + answers.stream().filter(h -> h.status() == SWITCHING_PROTOCOLS).count(),
          "every upgrade is either admitted or refused with 503: " + answers);
      // Retry-After is the drawn delay rounded up to whole seconds
      long maxSeconds = BACKOFF_MAX.plus(Duration.ofSeconds(1)).minusMillis(1).toSeconds();
      for (WsClient.Handshake h : refused) {
        assertTrue(h.retryAfter().isPresent(), "a refusal says when to come back: " + h);
        long seconds = Long.parseLong(h.retryAfter().get());
        assertTrue(seconds >= 1 && seconds <= maxSeconds, "Retry-After within the reconnect window: " + h);
      }

      // the refused client comes back: once the bucket has a token again it is welcomed
      AtomicReference<WsClient> admitted = new AtomicReference<>();
      Await.until(
          "a refused client to be admitted again",
          REFILL_WAIT,
          () -> tryWelcome(node, "admission-again", admitted),
          () -> "still refused");
      try (WsClient again = admitted.get()) {
        assertTrue(again.welcome().hasWelcome());
      }
    }
  }

  /** {@link #AT_ONCE} upgrades of different users sent together; the admitted ones are closed again. */
  private static List<WsClient.Handshake> burst(RouterTestNode node) {
    ExecutorService pool = Executors.newFixedThreadPool(AT_ONCE);
    try {
      List<CompletableFuture<WsClient.Handshake>> pending = new ArrayList<>();
      for (int i = 0; i < AT_ONCE; i++) {
        String user = "admission-" + i;
        pending.add(CompletableFuture.supplyAsync(() -> WsClient.handshake(node.wsUri(Tokens.valid(user)), Map.of()), pool));
      }
      return pending.stream().map(CompletableFuture::join).toList();
    } finally {
      pool.shutdownNow();
    }
  }

  private static boolean tryWelcome(RouterTestNode node, String user, AtomicReference<WsClient> admitted) {
    return WsClient.tryConnect(node.wsUri(Tokens.valid(user))).map(c -> {
      admitted.set(c);
      return true;
    }).orElse(false);
  }
}
