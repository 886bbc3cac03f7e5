package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.imrouter.node.delivery.Session;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session lasts as long as its token: when the token's exp passes the server closes it with
 * 4401, unless the client sent a {@code refresh} frame with a newer token of the same user first.
 * A refresh with another user's token or a badly signed one is refused and changes nothing.
 *
 * <p>The node tolerates no clock skew here (leeway 0), so the close comes at exp itself. Where a
 * session must outlive its first expiry, a second session on the same token shows when that
 * expiry has passed: the test waits for its close, not on the clock.
 */
class TokenExpiryTest {
  /** Short, so the close comes soon; JWT exp has whole seconds, so 2–3 s after minting. */
  private static final Duration SHORT = Duration.ofSeconds(3);
  /** Long enough for a connect, a welcome and a refresh on a busy machine before it passes. */
  private static final Duration ROOM_TO_REFRESH = Duration.ofSeconds(6);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node = new RouterTestNode("token_expiry", Map.of("router.jwt.leeway", "0s"));
    // the first session of a fresh node starts sharding and the journal: not in a test's token time
    node.welcomed("token-warm-up").close();
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  @Test
  void aSessionIsClosedWith4401WhenItsTokenExpires() {
    try (WsClient c = WsClient.connect(node.wsUri(Tokens.expiringIn("exp-plain", SHORT)))) {
      c.welcome();
      c.roundTrip(1); // a working session until then
      assertEquals(Session.CloseCodes.TOKEN_EXPIRED, c.awaitClose());
    }
  }

  @Test
  void aSessionThatRefreshedInBandOutlivesItsFirstToken() {
    String first = Tokens.expiringIn("exp-refresh", ROOM_TO_REFRESH);
    try (WsClient refreshed = WsClient.connect(node.wsUri(first));
        WsClient control = WsClient.connect(node.wsUri(first))) {
      refreshed.welcome();
      control.welcome();
      refreshed.sendJson("{\"refresh\":{\"requestId\":\"r1\",\"token\":\"" + Tokens.valid("exp-refresh") + "\"}}");
      ServerFrame answer = refreshed.expect(f -> f.hasResult() || f.hasError(), "answer to the refresh");
      assertTrue(answer.hasResult(), answer.toString());
      assertEquals("r1", answer.getResult().getRequestId());
      assertTrue(answer.getResult().getOk());
      // the session that did not refresh ends at the first token's expiry ...
      assertEquals(Session.CloseCodes.TOKEN_EXPIRED, control.awaitClose());
      // ... and the one that did is still open and working after it
      refreshed.roundTrip(2);
      assertFalse(refreshed.isClosed(), "a refreshed session outlives its first token");
    }
  }

  @Test
  void aRefreshWithAnotherUsersOrABadlySignedTokenIsRefusedAndTheOldExpiryStands() {
    try (WsClient c = WsClient.connect(node.wsUri(Tokens.expiringIn("exp-refused", ROOM_TO_REFRESH)))) {
      c.welcome();
      c.sendJson("{\"refresh\":{\"requestId\":\"other\",\"token\":\"" + Tokens.valid("exp-someone-else") + "\"}}");
      c.expectError("other", "FORBIDDEN");
      c.sendJson("{\"refresh\":{\"requestId\":\"forged\",\"token\":\"" + Tokens.wrongSignature("exp-refused") + "\"}}");
      c.expectError("forged", "UNAUTHENTICATED");
      c.sendJson("{\"refresh\":{\"requestId\":\"stale\",\"token\":\"" + Tokens.expired("exp-refused") + "\"}}");
      c.expectError("stale", "UNAUTHENTICATED");
      assertTrue(c.unconsumed().stream().noneMatch(ServerFrame::hasResult), "no refresh was accepted");
      assertEquals(Session.CloseCodes.TOKEN_EXPIRED, c.awaitClose());
    }
  }
}
