package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.IntFunction;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every kind of frame that costs the node work is limited per user, over real WebSockets: a
 * flood of each is answered RATE_LIMITED beyond its burst, nothing refused is run, and a second
 * connection or a reconnect of the same user brings no fresh tokens.
 *
 * <p>Rates are 1 per second, so the bounds below allow one extra token per elapsed second: a
 * slow machine cannot make these tests fail, and without the limits every flood would pass whole.
 */
class RateLimitTest {
  private static final int RATE = 1;
  private static final int BURST = 3;
  private static final int FLOOD = 12;

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    Map<String, Object> limits = new java.util.HashMap<>();
    for (String kind : new String[] {"send", "sync", "read", "typing", "group-op", "refresh"}) {
      String plural = kind.equals("typing") ? "typing" : kind.equals("refresh") ? "refreshes" : kind + "s";
      limits.put("router.limits." + plural + "-per-second", RATE);
      limits.put("router.limits." + kind + "-burst", BURST);
    }
    limits.put("router.limits.connections-per-user", 4);
    node = new RouterTestNode("rate_limits", limits);
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  private static WsClient connect(String user) {
    return node.welcomed(user);
  }

  /** Most frames a flood may get through: the burst, plus the tokens refilled while it ran. */
  private static long allowed(long startedNanos) {
    double seconds = (System.nanoTime() - startedNanos) / 1e9;
    return BURST + (long) Math.ceil(seconds * RATE);
  }

  /**
   * Sends {@code FLOOD} frames built by {@code frame} back to back, then a ping: a refusal is
   * answered at once, in order, so every RATE_LIMITED error precedes the pong. Returns how many
   * frames were not refused.
   */
  private static int flood(WsClient c, IntFunction<String> frame, long nonce) {
    int before = refusals(c);
    for (int i = 0; i < FLOOD; i++) {
      c.sendJson(frame.apply(i));
    }
    c.roundTrip(nonce);
    return FLOOD - (refusals(c) - before);
  }

  private static int refusals(WsClient c) {
    return (int) c.unconsumed().stream().filter(f -> f.hasError() && f.getError().getCode().equals("RATE_LIMITED")).count();
  }

  private static void assertBounded(String what, int passed, long started) {
    long allowed = allowed(started);
    assertTrue(passed <= allowed, passed + " of " + FLOOD + " " + what + " frames passed, at most " + allowed + " allowed");
    assertTrue(passed >= 1, "the burst itself passes");
  }

  @Test
  void aSecondConnectionOrAReconnectBringsNoFreshSendTokens() {
    long started = System.nanoTime();
    int passed;
    try (WsClient first = connect("rl-sender")) {
      passed = flood(first, i -> send("a" + i), 1);
      try (WsClient second = connect("rl-sender")) {
        passed += flood(second, i -> send("b" + i), 2);
      }
    }
    try (WsClient again = connect("rl-sender")) {
      passed += flood(again, i -> send("c" + i), 3);
    }
    assertBounded("send (over three connections)", passed, started);
    try (WsClient check = connect("rl-sender")) {
      // accepted means stored: the sender's inbox holds exactly the sends that passed
      check.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0,\"limit\":100}}");
      ServerFrame answer = check.expect(f -> f.hasHistory() || f.hasError(), "history");
      assertTrue(answer.hasHistory(), answer.toString());
      assertEquals(passed, answer.getHistory().getItemsCount(), "only the sends that passed were stored");
    }
  }

  @Test
  void syncsReadsTypingGroupOperationsAndRefreshesAreLimitedToo() {
    try (WsClient c = connect("rl-all")) {
      c.sendJson(send("one"));
      c.expectAccepted("one");
      long started = System.nanoTime();
      assertBounded("sync", flood(c, i -> "{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0}}", 1), started);
      started = System.nanoTime();
      assertBounded("read", flood(c, i -> "{\"read\":{\"stream\":\"inbox\",\"seq\":1}}", 2), started);
      started = System.nanoTime();
      assertBounded("typing", flood(c, i -> "{\"typing\":{\"to\":\"user:rl-peer\"}}", 3), started);
      started = System.nanoTime();
      assertBounded(
          "group operation",
          flood(c, i -> "{\"createGroup\":{\"requestId\":\"g" + i + "\",\"groupId\":\"rl-g" + i + "\",\"title\":\"t\"}}", 4),
          started);
      String token = Tokens.valid("rl-all");
      started = System.nanoTime();
      assertBounded("refresh", flood(c, i -> "{\"refresh\":{\"requestId\":\"f" + i + "\",\"token\":\"" + token + "\"}}", 5), started);
    }
  }

  private static String send(String id) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"user:rl-peer\",\"text\":\"x\"}}";
  }
}
