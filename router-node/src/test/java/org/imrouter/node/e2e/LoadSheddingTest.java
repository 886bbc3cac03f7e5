package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.imrouter.node.delivery.NodeLoad;
import org.imrouter.node.testkit.Await;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.Test;

/**
 * A node whose default dispatcher falls behind refuses new sessions instead of taking them on:
 * upgrades are answered 503 with a Retry-After while it is overloaded, open sessions go on, and
 * new ones are let in again once it has caught up. The overload is real: a burst of work holds
 * every thread of the node's default dispatcher, so the node's own probe starts late.
 */
class LoadSheddingTest {
  private static final int SERVICE_UNAVAILABLE = 503;
  /** the default dispatcher's threads, fixed so that the test can occupy every one */
  private static final int THREADS = 2;
  /** tasks per thread, each as long as BUSY: the probe queues behind at least one of them */
  private static final int TASKS_PER_THREAD = 2;
  private static final Duration BUSY = Duration.ofMillis(600);
  private static final Duration SHED_LAG = Duration.ofMillis(300);
  /**
   * How long the node sheds after the burst: the checks made meanwhile each wait at most
   * WsClient.TIMEOUT (15 s), and the test asserts afterwards that the node still shed, so a
   * check that ran after the hold fails the test instead of passing it by chance.
   */
  private static final Duration HOLD = Duration.ofSeconds(25);
  private static final Duration OVERLOAD_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration RECOVERY_TIMEOUT = HOLD.plusSeconds(60);

  private static String send(String id) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"user:shed-bob\",\"text\":\"hello\"}}";
  }

  @Test
  void anOverloadedNodeRefusesNewSessionsUntilItHasCaughtUp() throws Exception {
    try (RouterTestNode node =
            new RouterTestNode(
                "load_shedding",
                Map.of(
                    "router.load-shedding.enabled", "on",
                    "pekko.actor.default-dispatcher.fork-join-executor.parallelism-min", THREADS,
                    "pekko.actor.default-dispatcher.fork-join-executor.parallelism-max", THREADS,
                    "router.load-shedding.probe-interval", "50ms",
                    "router.load-shedding.shed-lag", SHED_LAG.toMillis() + "ms",
                    "router.load-shedding.hold", HOLD.toSeconds() + "s"))) {
      NodeLoad load = NodeLoad.get(node.system());
      // a node just started can lag past SHED_LAG while it compiles: wait until it keeps up
      Await.until("the new node to keep up", RECOVERY_TIMEOUT, () -> !load.overloaded(), () -> "overloaded");
      try (WsClient alice = WsClient.connectAdmitted(node.wsUri(Tokens.valid("shed-alice")))) {
        alice.welcome();
        alice.sendJson(send("before"));
        alice.expectAccepted("before");

        // a burst of work holds every dispatcher thread: the node's own probe starts late
        for (int i = 0; i < THREADS * TASKS_PER_THREAD; i++) {
          node.system().executionContext().execute(LoadSheddingTest::busy);
        }
        Await.until("the node to find itself overloaded", OVERLOAD_TIMEOUT, load::overloaded, () -> "not overloaded");

        // the admission bucket has its production burst (8,000): a 503 here is the overload's
        WsClient.Handshake upgrade = WsClient.handshake(node.wsUri(Tokens.valid("shed-carol")), Map.of());
        assertEquals(SERVICE_UNAVAILABLE, upgrade.status(), "a new session is refused: " + upgrade);
        assertTrue(upgrade.retryAfter().isPresent(), "the refusal says when to come back: " + upgrade);
        // an open session goes on: refusing its sends would only bring them back at once
        alice.sendJson(send("during"));
        alice.expectAccepted("during");
        assertTrue(load.overloaded(), "the checks above ran while the node shed");

        Await.until("the node to catch up", RECOVERY_TIMEOUT, () -> !load.overloaded(), () -> "still overloaded");
        AtomicReference<WsClient> carol = new AtomicReference<>();
        Await.until(
            "the refused client to be admitted",
            RECOVERY_TIMEOUT,
            () -> WsClient.tryConnect(node.wsUri(Tokens.valid("shed-carol"))).map(c -> {
              carol.set(c);
              return true;
            }).orElse(false),
            () -> "still refused");
        carol.get().close();
      }
    }
  }

  /** Holds a dispatcher thread, as a burst of work would. */
  private static void busy() {
    try {
      TimeUnit.MILLISECONDS.sleep(BUSY.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
