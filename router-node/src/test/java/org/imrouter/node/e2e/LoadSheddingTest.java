package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
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
 * new ones are let in again once it has caught up. The overload is real: a backlog of work is
 * kept queued in front of the node's default dispatcher, so the node's own probe starts late.
 */
class LoadSheddingTest {
  private static final int SERVICE_UNAVAILABLE = 503;
  /** the default dispatcher's threads, fixed so that the queue in front of them is known */
  private static final int THREADS = 2;
  /** one task of the backlog: a dispatcher thread held this long, as a burst of work would */
  private static final Duration TASK = Duration.ofMillis(100);
  /**
   * Tasks kept queued in front of the dispatcher while the overload lasts: THREADS threads work
   * them off in BACKLOG x TASK / THREADS = 1 s, over three times SHED_LAG, so every probe that
   * joins the queue starts late enough.
   */
  private static final int BACKLOG = 20;
  private static final Duration SHED_LAG = Duration.ofMillis(300);
  private static final Duration HOLD = Duration.ofSeconds(1);
  private static final Duration OVERLOAD_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(60);

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
                    "router.load-shedding.hold", HOLD.toMillis() + "ms"))) {
      NodeLoad load = NodeLoad.get(node.system());
      // a node just started can lag past SHED_LAG while it compiles: wait until it keeps up
      Await.until("the new node to keep up", RECOVERY_TIMEOUT, () -> !load.overloaded(), () -> "overloaded");
      try (WsClient alice = WsClient.connectAdmitted(node.wsUri(Tokens.valid("shed-alice")))) {
        alice.welcome();
        alice.sendJson(send("before"));
        alice.expectAccepted("before");

        try (Backlog backlog = new Backlog(node.system().executionContext())) {
          Await.until("the node to find itself overloaded", OVERLOAD_TIMEOUT, load::overloaded, () -> "not overloaded");

          // the admission bucket has its production burst (8,000): a 503 here is the overload's
          WsClient.Handshake upgrade = WsClient.handshake(node.wsUri(Tokens.valid("shed-carol")), Map.of());
          assertEquals(SERVICE_UNAVAILABLE, upgrade.status(), "a new session is refused: " + upgrade);
          assertTrue(upgrade.retryAfter().isPresent(), "the refusal says when to come back: " + upgrade);
          // an open session goes on: refusing its sends would only bring them back at once
          alice.sendJson(send("during"));
          alice.expectAccepted("during");
        }

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

  /**
   * Keeps BACKLOG tasks queued on {@code dispatcher} until closed, from a thread of its own: the
   * node's own probe queues behind them for as long as the test needs it overloaded.
   */
  private static final class Backlog implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger queued = new AtomicInteger();
    private final Thread feeder;

    Backlog(Executor dispatcher) {
      feeder = new Thread(() -> {
        while (running.get()) {
          if (queued.get() < BACKLOG) {
            queued.incrementAndGet();
            dispatcher.execute(() -> {
              hold(TASK);
              queued.decrementAndGet();
            });
          } else {
            hold(Duration.ofMillis(TASK.toMillis() / THREADS / 2)); // about as often as one leaves
          }
        }
      }, "backlog");
      feeder.start();
    }

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      feeder.join();
    }
  }

  private static void hold(Duration d) {
    try {
      TimeUnit.MILLISECONDS.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
