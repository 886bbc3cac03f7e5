package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.Test;

/**
 * A node shutting down (SIGTERM runs the same coordinated shutdown) tells every connected client
 * to reconnect elsewhere with close code 1001 before it hands off its shards, and loses nothing
 * that was accepted.
 */
class DrainTest {
  private static final int GOING_AWAY = 1001;

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
}
