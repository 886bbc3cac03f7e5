package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.imrouter.node.stream.Request;
import org.imrouter.node.testkit.Await;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamItem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A node whose journal writes stand in a queue refuses new sends at once with UNAVAILABLE, keeps
 * the connection serving, and takes the same clientMsgId once the queue is gone, exactly once.
 * The node runs with a write-latency target no real write meets, so every interval that had a
 * write looks like a standing queue and the next interval without one ends it.
 */
class OverloadTest {
  private static final Duration INTERVAL = Duration.ofMillis(300);
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "overload", Map.of("router.overload.write-latency-target", "1ns", "router.overload.interval", INTERVAL.toMillis() + "ms"));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  private static String send(String id) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"user:ov-bob\",\"text\":\"" + id + "\"}}";
  }

  /** Sends {@code id} and returns the answer to it: accepted, or an error. */
  private static ServerFrame answer(WsClient c, String id) {
    c.sendJson(send(id));
    return c.expect(
        f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(id) || f.hasError() && f.getError().getRef().equals(id),
        "answer to " + id);
  }

  @Test
  void sendsAreRefusedWhileWritesQueueAndTheSameIdLandsOnceAfterwards() {
    try (WsClient alice = node.welcomed("ov-alice")) {
      List<String> accepted = new ArrayList<>();
      String refused = null;
      // writes make the next interval look like a standing queue
      for (int i = 0; refused == null; i++) {
        String id = "ov-" + i;
        ServerFrame f = answer(alice, id);
        if (f.hasAccepted()) {
          accepted.add(id);
        } else {
          assertEquals("UNAVAILABLE", f.getError().getCode(), f.toString());
          assertEquals(Request.OVERLOADED, f.getError().getMessage());
          refused = id;
        }
        if (i > 1_000) {
          throw new AssertionError("no send was refused");
        }
      }
      // the connection still serves, and a retry lands once an interval passed without writes
      String retried = refused;
      Await.until("the refused send accepted on retry", TIMEOUT, () -> {
        Await.step(INTERVAL);
        return answer(alice, retried).hasAccepted();
      }, () -> "still refused");
      accepted.add(retried);

      List<String> stored = alice.sync("inbox", 0, 100).getItemsList().stream()
              .filter(StreamItem::hasMessage)
              .map(item -> item.getMessage().getText())
              .toList();
      assertEquals(accepted, stored, "every accepted send stored once, in order; the refused one only after its retry");
    }
  }
}
