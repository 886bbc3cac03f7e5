package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.SystemKind;
import org.imrouter.protocol.v1.TypingNotice;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Typing reaches only the other party of an existing conversation, and a burst of it reaches
 * recipients as a few notices, directly and in groups, without queueing ahead of messages.
 *
 * <p>The node runs with no effective typing rate limit (the test node's relaxed rates), so what
 * holds a burst back here is the coalescing alone. A message sent after the typing travels the
 * same path behind it (the sender's entity or the group, then the recipient's entity or the
 * gateway, then the session), so once the recipient has that message it has every notice the
 * typing produced.
 */
class TypingTest {
  private static final int BURST = 50;
  /** router.limits.typing-window (the default). */
  private static final Duration WINDOW = Duration.ofSeconds(2);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node = new RouterTestNode("typing");
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  @Test
  void aStrangersTypingDoesNotReachTheVictimWhileAPeersDoes() {
    try (WsClient victim = node.welcomed("ty-victim");
        WsClient wroteTo = node.welcomed("ty-wrote-to");
        WsClient heardFrom = node.welcomed("ty-heard-from");
        WsClient stranger = node.welcomed("ty-stranger")) {
      // a conversation either way round makes two users peers
      send(wroteTo, "w1", "ty-victim");
      victim.expect(message("w1"), "message from ty-wrote-to");
      send(victim, "v1", "ty-heard-from");
      heardFrom.expect(message("v1"), "message from ty-victim");

      typing(stranger, "user:ty-victim");
      // the stranger's own entity has handled the typing once it accepts a later send
      send(stranger, "s1", "ty-heard-from");
      stranger.expectAccepted("s1");

      typing(wroteTo, "user:ty-victim");
      assertEquals("user:ty-wrote-to", victim.expect(typingFrom("ty-wrote-to"), "typing from ty-wrote-to").getTyping().getConversation());
      typing(heardFrom, "user:ty-victim");
      assertEquals("user:ty-heard-from", victim.expect(typingFrom("ty-heard-from"), "typing from ty-heard-from").getTyping().getConversation());
      // the stranger's typing was handled before either peer typed: it would be here by now
      assertTrue(victim.unconsumed().stream().noneMatch(typingFrom("ty-stranger")), "a stranger's typing reached the victim");
    }
  }

  @Test
  void aBurstOfDirectTypingReachesThePeerAsAFewNotices() {
    try (WsClient typist = node.welcomed("ty-burst"); WsClient peer = node.welcomed("ty-burst-peer")) {
      send(typist, "hello", "ty-burst-peer");
      peer.expect(message("hello"), "first message");

      long started = System.nanoTime();
      for (int i = 0; i < BURST; i++) {
        typing(typist, "user:ty-burst-peer");
      }
      send(typist, "after", "ty-burst-peer");
      peer.expect(message("after"), "the message sent after the burst");
      long notices = peer.unconsumed().stream().filter(typingFrom("ty-burst")).count();
      assertTrue(notices >= 1, "the burst reached the peer");
      assertCoalesced(notices, started);
    }
  }

  @Test
  void aBurstOfGroupTypingReachesMembersAsAFewNoticesAndDoesNotHoldUpPosts() {
    try (WsClient typist = node.welcomed("ty-g-typist"); WsClient member = node.welcomed("ty-g-member")) {
      typist.sendJson("{\"createGroup\":{\"requestId\":\"r1\",\"groupId\":\"ty-g\",\"title\":\"t\",\"members\":[\"ty-g-member\"]}}");
      typist.expect(f -> f.hasResult() && f.getResult().getRequestId().equals("r1"), "group created");
      // once this is out, the member's node follows the group for it: the rest arrives live
      member.expect(
          f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.ADDED_TO_GROUP && f.getSystem().getGroup().equals("group:ty-g"),
          "ADDED_TO_GROUP");

      long started = System.nanoTime();
      for (int i = 0; i < BURST; i++) {
        typing(typist, "group:ty-g");
      }
      send(typist, "post", "group:ty-g");
      member.expect(message("post"), "the post sent after the burst");
      List<TypingNotice> notices =
          member.unconsumed().stream().filter(ServerFrame::hasTyping).map(ServerFrame::getTyping).toList();
      assertTrue(notices.stream().allMatch(n -> n.getFrom().equals("ty-g-typist") && n.getConversation().equals("group:ty-g")), notices.toString());
      assertTrue(!notices.isEmpty(), "the burst reached the member");
      // at most a few notices were queued ahead of the post, not the whole burst
      assertCoalesced(notices.size(), started);
    }
  }

  /** At most one notice per typing window that the burst (and its barrier) spanned. */
  private static void assertCoalesced(long notices, long startedNanos) {
    long windows = 1 + (System.nanoTime() - startedNanos) / WINDOW.toNanos();
    assertTrue(notices <= windows, notices + " of " + BURST + " typing frames became notices; at most " + windows + " expected");
  }

  private static void typing(WsClient c, String to) {
    c.sendJson("{\"typing\":{\"to\":\"" + to + "\"}}");
  }

  private static void send(WsClient c, String clientMsgId, String to) {
    String address = to.startsWith("group:") ? to : "user:" + to;
    c.sendJson("{\"send\":{\"clientMsgId\":\"" + clientMsgId + "\",\"to\":\"" + address + "\",\"text\":\"" + clientMsgId + "\"}}");
  }

  private static Predicate<ServerFrame> message(String text) {
    return f -> f.hasMessage() && f.getMessage().getText().equals(text);
  }

  private static Predicate<ServerFrame> typingFrom(String user) {
    return f -> f.hasTyping() && f.getTyping().getFrom().equals(user);
  }
}
