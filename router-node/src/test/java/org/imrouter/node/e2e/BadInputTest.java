package org.imrouter.node.e2e;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.Ping;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input end to end, over real WebSockets against a node on the real Cassandra: every bad
 * frame gets a clear, stable error (code and ref as in the design) and leaves the connection
 * usable; limits answer TOO_LARGE / RATE_LIMITED or close with their code; and nothing is ever
 * half-written — each case is followed by a good action on the same connection whose seq shows
 * that the bad one left no trace.
 */
class BadInputTest {
  private static final int MAX_TEXT_BYTES = 1024;
  private static final int MAX_PAYLOAD_BYTES = 1024;
  private static final int MAX_FRAME_BYTES = 64 * 1024;
  private static final int SENDS_PER_SECOND = 5;
  private static final int SEND_BURST = 5;
  private static final int CONNECTIONS_PER_USER = 2;
  /** Error messages are fixed sentences: none quotes the input or a parser's internals. */
  private static final int MAX_ERROR_MESSAGE = 200;

  private static final int CLOSE_PROTOCOL_ERROR = 1002;
  private static final int CLOSE_POLICY_VIOLATION = 1008;
  /** Short, so that the unfinished-message test does not wait long. */
  private static final String MESSAGE_READ_TIMEOUT = "2s";
  private static final int CLOSE_INVALID_DATA = 1007;
  private static final int CLOSE_TOO_BIG = 1009;
  private static final int CLOSE_SLOW_CONSUMER = 4008;
  private static final int CLOSE_TOO_MANY_CONNECTIONS = 4029;

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "bad_input",
            Map.of(
                "router.limits.max-text-bytes", MAX_TEXT_BYTES,
                "router.limits.max-payload-bytes", MAX_PAYLOAD_BYTES,
                "router.limits.max-frame-bytes", MAX_FRAME_BYTES,
                "router.limits.sends-per-second", SENDS_PER_SECOND,
                "router.limits.send-burst", SEND_BURST,
                "router.limits.connections-per-user", CONNECTIONS_PER_USER,
                "router.limits.message-read-timeout", MESSAGE_READ_TIMEOUT));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  // ------------------------------------------------------------------ helpers

  private static WsClient connect(RouterTestNode on, String user) {
    return on.welcomed(user);
  }

  private static WsClient connect(String user) {
    return connect(node, user);
  }

  private static String send(String id, String to, String text) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"" + to + "\",\"text\":\"" + text + "\"}}";
  }

  /** A send that must be accepted; its seq in the sender's inbox. */
  private static long sendOk(WsClient c, String id, String to, String text) {
    c.sendJson(send(id, to, text));
    return c.expectAccepted(id).getAccepted().getSeq();
  }

  private static History sync(WsClient c, String stream, long afterSeq, int limit) {
    c.sendJson("{\"sync\":{\"stream\":\"" + stream + "\",\"afterSeq\":" + afterSeq + ",\"limit\":" + limit + "}}");
    return c.expect(f -> f.hasHistory() && f.getHistory().getStream().equals(stream), "history of " + stream).getHistory();
  }

  /**
   * Every item of an inbox of messages, paged, once it has at least {@code items} (transfers to a
   * recipient are asynchronous).
   */
  private static List<Message> awaitInbox(WsClient c, int items, int pageSize) {
    long deadline = System.nanoTime() + WsClient.TIMEOUT.toNanos();
    while (true) {
      List<Message> all = new ArrayList<>();
      boolean more = true;
      while (more) {
        History page = sync(c, "inbox", all.isEmpty() ? 0 : all.get(all.size() - 1).getSeq(), pageSize);
        page.getItemsList().forEach(i -> all.add(i.getMessage()));
        more = page.getHasMore();
      }
      if (all.size() >= items || System.nanoTime() > deadline) {
        return all;
      }
      c.roundTrip(System.nanoTime()); // one more server round trip before asking again
    }
  }

  private static void assertGapFree(List<Message> items) {
    for (int i = 0; i < items.size(); i++) {
      assertEquals(i + 1, items.get(i).getSeq(), "inbox seqs are gap-free");
    }
  }

  /** The connection still works: a ping is answered. */
  private static void assertUsable(WsClient c) {
    c.roundTrip(System.nanoTime());
  }

  // ------------------------------------------------------------------ unparseable frames

  @Test
  void malformedJsonIsBadFrameWithAnEmptyRef() {
    try (WsClient c = connect("bf-json")) {
      String deep = "{\"x\":" + "[".repeat(20_000) + "]".repeat(20_000) + "}"; // a stack overflow for a naive parser
      for (String junk : List.of("{\"send\":", "hello", "{", "[]", "{\"ping\":{\"nonce\":\"seven\"}}", "{\"sync\":{\"afterSeq\":1.5}}", deep)) {
        c.sendJson(junk);
        ServerFrame error = c.expectError("", "BAD_FRAME");
        assertFalse(error.getError().getMessage().isEmpty(), "the error says what is wrong");
        assertUsable(c);
      }
      assertEquals(1, sendOk(c, "after-junk", "user:bf-peer", "still here"), "the junk wrote nothing");
    }
  }

  @Test
  void textThatIsNotStrictJsonIsBadFrameEvenWhenItWouldBeAValidSend() {
    try (WsClient c = connect("bf-lenient")) {
      String send = "\"send\":{\"clientMsgId\":\"l1\",\"to\":\"user:bf-peer\",\"text\":\"x\"}";
      List<String> lenient =
          List.of(
              "{send:{clientMsgId:\"l1\",to:\"user:bf-peer\",text:\"x\"}}", // unquoted names
              "{'send':{'clientMsgId':'l1','to':'user:bf-peer','text':'x'}}", // single quotes
              "{/* a comment */" + send + "}",
              "{" + send + "} and then some garbage",
              "{" + send + "}{\"ping\":{}}", // two values in one message
              "{" + send + ",}"); // trailing comma
      for (String text : lenient) {
        c.sendJson(text);
        ServerFrame error = c.expectError("", "BAD_FRAME");
        String message = error.getError().getMessage();
        assertFalse(message.contains("bf-peer") || message.contains("garbage"), "no input echoed back: " + message);
        assertUsable(c);
      }
      // each of them, executed, would have stored l1 first
      assertEquals(1, sendOk(c, "strict", "user:bf-peer", "strict JSON"), "none of the lenient texts was executed");
    }
  }

  @Test
  void errorsAboutUnparseableFramesAreShortAndFixed() {
    try (WsClient c = connect("bf-short")) {
      String deep = "{\"x\":" + "[".repeat(20_000) + "]".repeat(20_000) + "}";
      c.sendJson(deep);
      ServerFrame error = c.expectError("", "BAD_FRAME");
      assertTrue(error.getError().getMessage().length() < MAX_ERROR_MESSAGE, "was " + error.getError().getMessage().length() + " chars");
      c.sendJson("{\"ping\":{\"nonce\":\"" + "7".repeat(5_000) + "x\"}}");
      error = c.expectError("", "BAD_FRAME");
      assertTrue(error.getError().getMessage().length() < MAX_ERROR_MESSAGE, "was " + error.getError().getMessage().length() + " chars");
      assertUsable(c);
    }
  }

  @Test
  void twoFramesInOneMessageIsBadFrame() {
    try (WsClient c = connect("bf-two")) {
      // one field set per frame: a send and a sync together are neither
      c.sendJson("{\"send\":{\"clientMsgId\":\"two\",\"to\":\"user:bf-peer\",\"text\":\"x\"},\"sync\":{\"stream\":\"inbox\"}}");
      c.expectError("", "BAD_FRAME");
      assertEquals(1, sendOk(c, "one", "user:bf-peer", "one at a time"), "the double frame wrote nothing");
    }
  }

  @Test
  void malformedProtobufIsBadFrame() {
    try (WsClient c = connect("bf-proto")) {
      byte[] truncated = {0x0A, 0x7F, 0x01}; // field 1 (send), length 127, then the message ends
      c.sendBinary(truncated);
      c.expectError("", "BAD_FRAME");
      assertTrue(c.lastWasBinary(), "a binary client is answered in protobuf");
      c.sendBinary(new byte[] {(byte) 0xFF}); // a tag cut off mid-varint
      c.expectError("", "BAD_FRAME");
      c.send(ClientFrame.newBuilder().setPing(Ping.newBuilder().setNonce(3)).build());
      c.expect(f -> f.hasPong() && f.getPong().getNonce() == 3, "binary pong");
      c.send(ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId("p1").setTo("user:bf-peer").setText("ok")).build());
      assertEquals(1, c.expectAccepted("p1").getAccepted().getSeq(), "the bad frames wrote nothing");
    }
  }

  @Test
  void anEmptyFrameOrOneWithOnlyUnknownFieldsIsBadFrame() {
    try (WsClient c = connect("bf-empty")) {
      c.sendJson("{}");
      c.expectError("", "BAD_FRAME");
      c.sendJson("{\"teleport\":{\"to\":\"mars\"},\"v\":2}");
      c.expectError("", "BAD_FRAME");
      c.sendBinary(new byte[0]);
      c.expectError("", "BAD_FRAME");
      c.sendBinary(new byte[] {(byte) 0xF8, 0x06, 0x01}); // field 111, varint 1: unknown to this server
      c.expectError("", "BAD_FRAME");
      assertEquals(1, sendOk(c, "e1", "user:bf-peer", "ok"), "nothing was written");
    }
  }

  // ------------------------------------------------------------------ forward compatibility

  @Test
  void unknownJsonFieldsNextToAValidSendAreIgnored() {
    try (WsClient c = connect("fc-sender")) {
      c.sendJson(
          "{\"send\":{\"clientMsgId\":\"u1\",\"to\":\"user:fc-peer\",\"text\":\"from the future\",\"priority\":\"high\","
              + "\"reactions\":[{\"emoji\":\"+1\"}]},\"traceId\":\"abc\",\"v\":3}");
      Accepted accepted = c.expectAccepted("u1").getAccepted();
      assertEquals(1, accepted.getSeq());
      Message stored = sync(c, "inbox", 0, 10).getItems(0).getMessage();
      assertEquals("from the future", stored.getText());
      assertEquals(accepted.getMsgId(), stored.getMsgId());
    }
  }

  @Test
  void int64ArrivesAsJsonStringOrNumber() {
    try (WsClient c = connect("i64-user")) {
      sendOk(c, "i1", "user:i64-peer", "one");
      sendOk(c, "i2", "user:i64-peer", "two");
      c.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":\"1\",\"limit\":10}}");
      History asString = c.expect(ServerFrame::hasHistory, "history (afterSeq as string)").getHistory();
      c.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":1,\"limit\":10}}");
      History asNumber = c.expect(ServerFrame::hasHistory, "history (afterSeq as number)").getHistory();
      assertEquals(1, asString.getItemsCount());
      assertEquals(2, asString.getItems(0).getMessage().getSeq());
      assertEquals(asNumber, asString);
      c.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":\"0\"}}");
      assertEquals(2, c.expect(ServerFrame::hasHistory, "history (afterSeq \"0\")").getHistory().getItemsCount());

      // above 2^53 a JSON number loses precision in most parsers; the string form must be exact
      long big = (1L << 53) + 1;
      c.sendJson("{\"ping\":{\"nonce\":\"" + big + "\"}}");
      c.expect(f -> f.hasPong() && f.getPong().getNonce() == big, "pong for a string nonce");
      c.sendJson("{\"ping\":{\"nonce\":7}}");
      c.expect(f -> f.hasPong() && f.getPong().getNonce() == 7, "pong for a number nonce");
      c.sendJson("{\"ping\":{\"nonce\":\"-7\"}}");
      c.expect(f -> f.hasPong() && f.getPong().getNonce() == -7, "pong for a negative string nonce");
    }
  }

  // ------------------------------------------------------------------ missing and invalid fields

  @Test
  void aSendWithoutClientMsgIdOrContentIsBadFrame() {
    try (WsClient c = connect("mf-noid")) {
      c.sendJson("{\"send\":{\"to\":\"user:mf-peer\",\"text\":\"who am I\"}}");
      c.expectError("", "BAD_FRAME");
      c.sendJson("{\"send\":{\"clientMsgId\":\"" + "k".repeat(129) + "\",\"to\":\"user:mf-peer\",\"text\":\"long id\"}}");
      c.expectError("k".repeat(129), "BAD_FRAME");
      c.sendJson("{\"send\":{\"clientMsgId\":\"empty\",\"to\":\"user:mf-peer\"}}");
      c.expectError("empty", "BAD_FRAME");
      assertEquals(1, sendOk(c, "good", "user:mf-peer", "now with everything"), "the bad sends wrote nothing");
    }
  }

  @Test
  void aSendToAnInvalidAddressIsBadFrameWithItsClientMsgId() {
    // each invalid address costs a rate-limiter token: at most SEND_BURST - 1 of them here
    try (WsClient c = connect("mf-to")) {
      c.sendJson("{\"send\":{\"clientMsgId\":\"no-to\",\"text\":\"to nobody\"}}");
      c.expectError("no-to", "BAD_FRAME");
      c.sendJson(send("no-prefix", "bob", "to bob?"));
      c.expectError("no-prefix", "BAD_FRAME");
      c.sendJson(send("bad-id", "user:bad id", "to a bad id"));
      c.expectError("bad-id", "BAD_FRAME");
      c.sendJson(send("too-long", "user:" + "x".repeat(65), "to a long id"));
      c.expectError("too-long", "BAD_FRAME");
      assertEquals(1, sendOk(c, "good", "user:mf-peer", "to a real user"), "the bad sends wrote nothing");
    }
    try (WsClient peer = connect("mf-peer")) {
      List<Message> inbox = awaitInbox(peer, 1, 100);
      assertEquals(List.of("to a real user"), inbox.stream().map(Message::getText).toList(), "only the good send arrived");
    }
  }

  @Test
  void aSyncOrReadOfAnUnknownStreamIsBadFrameWithTheStreamAsRef() {
    try (WsClient c = connect("mf-sync")) {
      c.sendJson("{\"sync\":{\"stream\":\"nope\",\"afterSeq\":0}}");
      c.expectError("nope", "BAD_FRAME");
      c.sendJson("{\"sync\":{\"stream\":\"group:bad id\"}}");
      c.expectError("group:bad id", "BAD_FRAME");
      c.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":-1}}");
      c.expectError("inbox", "BAD_FRAME");
      c.sendJson("{\"read\":{\"stream\":\"nope\",\"seq\":1}}");
      c.expectError("nope", "BAD_FRAME");
      c.sendJson("{\"read\":{\"stream\":\"inbox\",\"seq\":5}}"); // past the end of an empty inbox
      c.expectError("inbox", "BAD_FRAME");
      assertEquals(0, sync(c, "inbox", 0, 10).getItemsCount(), "the bad reads wrote no READ item");
      assertEquals(1, sendOk(c, "good", "user:mf-peer", "first item"), "the bad reads wrote nothing");
    }
  }

  @Test
  void aCursorNearTheEndOfTheSeqRangeGetsAnEmptyLastPage() {
    try (WsClient c = connect("mf-cursor")) {
      sendOk(c, "one", "user:mf-peer", "first item");
      c.sendJson("{\"createGroup\":{\"requestId\":\"rc\",\"groupId\":\"mf-cursor-g\",\"title\":\"t\"}}");
      assertTrue(c.expect(f -> f.hasResult() || f.hasError(), "answer to rc").hasResult());
      // before the fix afterSeq + limit wrapped below zero: an empty page with hasMore true, for ever
      for (String stream : List.of("inbox", "group:mf-cursor-g")) {
        for (long afterSeq : new long[] {Long.MAX_VALUE, Long.MAX_VALUE - 1, Long.MAX_VALUE - 10, 1_000_000}) {
          History page = sync(c, stream, afterSeq, 10);
          assertEquals(0, page.getItemsCount(), stream + " after " + afterSeq);
          assertFalse(page.getHasMore(), stream + " after " + afterSeq + " must end the paging");
        }
        assertTrue(sync(c, stream, 0, 10).getItemsCount() > 0, "the stream itself still reads");
      }
    }
  }

  @Test
  void groupOperationsWithoutRequestIdOrWithAnInvalidGroupIdAreBadFrame() {
    try (WsClient c = connect("mf-owner")) {
      c.sendJson("{\"createGroup\":{\"groupId\":\"mf-g1\",\"title\":\"no request id\"}}");
      c.expectError("", "BAD_FRAME");
      c.sendJson("{\"createGroup\":{\"requestId\":\"r1\",\"groupId\":\"bad id\",\"title\":\"t\"}}");
      c.expectError("r1", "BAD_FRAME");
      c.sendJson("{\"createGroup\":{\"requestId\":\"r2\",\"title\":\"no group id\"}}");
      c.expectError("r2", "BAD_FRAME");
      c.sendJson("{\"createGroup\":{\"requestId\":\"r3\",\"groupId\":\"group:mf-g1\"}}");
      c.expectError("r3", "BAD_FRAME");
      c.sendJson("{\"addMembers\":{\"groupId\":\"mf-g1\",\"members\":[\"mf-x\"]}}");
      c.expectError("", "BAD_FRAME");
      c.sendJson("{\"removeMembers\":{\"requestId\":\"r4\",\"groupId\":\"\",\"members\":[\"mf-x\"]}}");
      c.expectError("r4", "BAD_FRAME");
      c.sendJson("{\"leaveGroup\":{\"requestId\":\"r5\",\"groupId\":\"x/y\"}}");
      c.expectError("r5", "BAD_FRAME");

      // the refused create did not create mf-g1: creating it now succeeds (not ALREADY_EXISTS)
      c.sendJson("{\"createGroup\":{\"requestId\":\"r6\",\"groupId\":\"mf-g1\",\"title\":\"Team\"}}");
      ServerFrame result = c.expect(f -> f.hasResult() || f.hasError(), "answer to r6");
      assertTrue(result.hasResult() && result.getResult().getOk(), "created: " + result);
      History group = sync(c, "group:mf-g1", 0, 10);
      assertEquals(1, group.getItemsCount(), "only the CREATED item");
      assertEquals(SystemKind.CREATED, group.getItems(0).getSystem().getKind());
    }
    try (WsClient again = WsClient.connect(node.wsUri(Tokens.valid("mf-owner")))) {
      Set<String> streams =
          again.welcome().getWelcome().getStreamsList().stream().map(StreamInfo::getStream).collect(Collectors.toSet());
      assertEquals(Set.of("inbox", "group:mf-g1"), streams, "no group from the refused frames");
    }
  }

  @Test
  void typingToAnInvalidAddressIsBadFrame() {
    try (WsClient c = connect("mf-typer")) {
      c.sendJson("{\"typing\":{\"to\":\"bob\"}}");
      c.expectError("", "BAD_FRAME");
      assertUsable(c);
    }
  }

  // ------------------------------------------------------------------ sizes

  @Test
  void textOverTheLimitIsTooLargeAndTheStreamContinuesWithoutAGap() {
    try (WsClient c = connect("big-sender")) {
      assertEquals(1, sendOk(c, "t1", "user:big-peer", "small"));
      c.sendJson(send("t2", "user:big-peer", "a".repeat(MAX_TEXT_BYTES + 1)));
      c.expectError("t2", "TOO_LARGE");
      // the limit is in UTF-8 bytes, not characters: 600 'é' are 1200 bytes
      c.sendJson(send("t3", "user:big-peer", "\u00e9".repeat(600)));
      c.expectError("t3", "TOO_LARGE");
      c.send(
          ClientFrame.newBuilder()
              .setSend(
                  Send.newBuilder()
                      .setClientMsgId("t4")
                      .setTo("user:big-peer")
                      .setContentType("application/octet-stream")
                      .setPayload(ByteString.copyFrom(new byte[MAX_PAYLOAD_BYTES + 1])))
              .build());
      c.expectError("t4", "TOO_LARGE");
      String exactlyAtTheLimit = "b".repeat(MAX_TEXT_BYTES);
      assertEquals(2, sendOk(c, "t5", "user:big-peer", exactlyAtTheLimit), "the next seq: the refused ones wrote nothing");
      List<Message> inbox = sync(c, "inbox", 0, 10).getItemsList().stream().map(i -> i.getMessage()).toList();
      assertEquals(List.of("small", exactlyAtTheLimit), inbox.stream().map(Message::getText).toList());
      assertGapFree(inbox);
    }
  }

  @Test
  void aContentTypeOrGroupTitleOverTheLimitIsTooLargeAndStoresNothing() {
    try (WsClient c = connect("tl-fields")) {
      c.sendJson("{\"send\":{\"clientMsgId\":\"ct\",\"to\":\"user:tl-peer\",\"text\":\"x\",\"contentType\":\"" + "a".repeat(256) + "\"}}");
      c.expectError("ct", "TOO_LARGE");
      c.sendJson("{\"createGroup\":{\"requestId\":\"tt\",\"groupId\":\"tl-g\",\"title\":\"" + "t".repeat(513) + "\"}}");
      c.expectError("tt", "TOO_LARGE");
      assertUsable(c);
      assertEquals(1, sendOk(c, "after", "user:tl-peer", "fits"), "the refused send stored nothing");
      c.sendJson("{\"createGroup\":{\"requestId\":\"t2\",\"groupId\":\"tl-g\",\"title\":\"" + "t".repeat(512) + "\"}}");
      ServerFrame created = c.expect(f -> f.hasResult() || f.hasError(), "answer to t2");
      assertTrue(created.hasResult() && created.getResult().getOk(), "the refused create left no group behind: " + created);
    }
  }

  @Test
  void aMessageOverTheFrameLimitClosesWith1009AndPersistsNothing() {
    try (WsClient c = connect("ov-sender")) {
      assertEquals(1, sendOk(c, "o1", "user:ov-peer", "before"));
      c.sendJson(send("o2", "user:ov-peer", "z".repeat(MAX_FRAME_BYTES + 1)));
      assertEquals(CLOSE_TOO_BIG, c.awaitClose());
    }
    // closed sessions leave the per-user count asynchronously: wait for a slot, not the clock
    try (WsClient c = awaitSlot(node, "ov-sender")) {
      c.send(
          ClientFrame.newBuilder()
              .setSend(Send.newBuilder().setClientMsgId("o3").setTo("user:ov-peer").setPayload(ByteString.copyFrom(new byte[MAX_FRAME_BYTES + 1])))
              .build());
      assertEquals(CLOSE_TOO_BIG, c.awaitClose(), "binary too");
    }
    try (WsClient c = awaitSlot(node, "ov-sender")) {
      assertEquals(2, sendOk(c, "o4", "user:ov-peer", "after"), "the oversized messages wrote nothing");
      List<Message> inbox = sync(c, "inbox", 0, 10).getItemsList().stream().map(i -> i.getMessage()).toList();
      assertEquals(List.of("before", "after"), inbox.stream().map(Message::getText).toList());
    }
  }

  @Test
  void aFragmentedMessageIsJudgedByItsTotalSize() throws IOException {
    // the JDK client sends one frame per message; fragments need the raw client
    String good = send("fr1", "user:fr-peer", "in three parts");
    try (RawWebSocket raw = new RawWebSocket(node.wsUri(Tokens.valid("fr-sender")), RawWebSocket.DEFAULT_BUFFER)) {
      raw.awaitFrame(ServerFrame::hasWelcome);
      raw.sendFragmented(good.getBytes(UTF_8), 3);
      Accepted accepted = raw.awaitFrame(ServerFrame::hasAccepted).getAccepted();
      assertEquals("fr1", accepted.getClientMsgId());
      assertEquals(1, accepted.getSeq());
      String oversized = send("fr2", "user:fr-peer", "y".repeat(MAX_FRAME_BYTES));
      raw.sendFragmented(oversized.getBytes(UTF_8), 4); // each fragment under the limit, the message over it
      assertEquals(CLOSE_TOO_BIG, raw.closeCode());
    }
    try (WsClient c = connect("fr-sender")) {
      assertEquals(2, sendOk(c, "fr3", "user:fr-peer", "after"), "the oversized message wrote nothing");
    }
  }

  @Test
  void aMessageLeftUnfinishedClosesWith1008AndPersistsNothing() throws IOException {
    // a client that sends the first fragment and never the rest must not hold its buffer for ever
    String message = send("uf1", "user:uf-peer", "never finished");
    byte[] bytes = message.getBytes(UTF_8);
    try (RawWebSocket raw = new RawWebSocket(node.wsUri(Tokens.valid("uf-sender")), RawWebSocket.DEFAULT_BUFFER)) {
      raw.awaitFrame(ServerFrame::hasWelcome);
      raw.sendFrame(RawWebSocket.OP_TEXT, false, java.util.Arrays.copyOf(bytes, bytes.length / 2), true);
      assertEquals(CLOSE_POLICY_VIOLATION, raw.closeCode(), "closed once the read timeout passed");
    }
    try (WsClient c = connect("uf-sender")) {
      assertEquals(1, sendOk(c, "uf2", "user:uf-peer", "finished"), "the unfinished message wrote nothing");
    }
  }

  @Test
  void textThatIsNotUtf8ClosesWith1007() throws IOException {
    // RFC 6455 §8.1: a text message must be valid UTF-8, else the endpoint fails the connection (1007)
    try (RawWebSocket raw = new RawWebSocket(node.wsUri(Tokens.valid("pv-utf8")), RawWebSocket.DEFAULT_BUFFER)) {
      raw.awaitFrame(ServerFrame::hasWelcome);
      byte[] json = send("pv1", "user:pv-peer", "xx").getBytes(UTF_8); // ends with "xx"}}
      json[json.length - 5] = (byte) 0xC3; // the text: a lead byte ...
      json[json.length - 4] = (byte) 0x28; // ... followed by '(' instead of a continuation byte
      raw.sendFrame(RawWebSocket.OP_TEXT, true, json, true);
      assertEquals(CLOSE_INVALID_DATA, raw.closeCode());
    }
    try (WsClient c = connect("pv-utf8")) {
      assertEquals(1, sendOk(c, "pv2", "user:pv-peer", "valid"), "the invalid message wrote nothing");
    }
  }

  @Test
  void anUnmaskedClientFrameClosesWith1002() throws IOException {
    // RFC 6455 §5.1: a server must close the connection on an unmasked client frame
    try (RawWebSocket raw = new RawWebSocket(node.wsUri(Tokens.valid("pv-mask")), RawWebSocket.DEFAULT_BUFFER)) {
      raw.awaitFrame(ServerFrame::hasWelcome);
      raw.sendFrame(RawWebSocket.OP_TEXT, true, send("pm1", "user:pv-peer", "unmasked").getBytes(UTF_8), false);
      assertEquals(CLOSE_PROTOCOL_ERROR, raw.closeCode());
    }
    try (WsClient c = connect("pv-mask")) {
      assertEquals(1, sendOk(c, "pm2", "user:pv-peer", "masked"), "the unmasked frame wrote nothing");
    }
  }

  // ------------------------------------------------------------------ rates and connections

  @Test
  void aFloodIsRateLimitedAndEveryAcceptedSendIsStoredExactlyOnce() {
    int count = 30;
    int stored;
    try (WsClient c = connect("flood-sender")) {
      for (int i = 0; i < count; i++) {
        c.sendJson(send("f" + i, "user:flood-peer", "flood " + i)); // back to back, no waiting
      }
      Map<String, Accepted> accepted = new HashMap<>();
      Set<String> limited = new HashSet<>();
      for (int i = 0; i < count; i++) {
        String id = "f" + i;
        ServerFrame answer =
            c.expect(
                f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(id) || f.hasError() && f.getError().getRef().equals(id),
                "answer to " + id);
        if (answer.hasAccepted()) {
          accepted.put(id, answer.getAccepted());
        } else {
          assertEquals("RATE_LIMITED", answer.getError().getCode(), "only the rate limit refuses these");
          limited.add(id);
        }
      }
      assertFalse(limited.isEmpty(), "30 sends at once exceed a burst of " + SEND_BURST);
      assertTrue(accepted.size() >= SEND_BURST, "the burst is accepted: " + accepted.keySet());

      List<Message> inbox = sync(c, "inbox", 0, 100).getItemsList().stream().map(i -> i.getMessage()).toList();
      assertEquals(accepted.size(), inbox.size(), "every accepted send is stored once, the refused ones not at all");
      assertGapFree(inbox);
      Map<Long, Accepted> bySeq = accepted.values().stream().collect(Collectors.toMap(Accepted::getSeq, a -> a));
      for (Message m : inbox) {
        Accepted a = bySeq.get(m.getSeq());
        assertEquals(a.getMsgId(), m.getMsgId());
        assertEquals("flood " + a.getClientMsgId().substring(1), m.getText());
      }

      // exactly one answer per send: nothing else about them arrived after the sync
      c.roundTrip(1);
      assertTrue(
          c.unconsumed().stream()
              .noneMatch(f -> f.hasAccepted() || f.hasError()),
          "no second answer: " + c.unconsumed().stream().filter(f -> f.hasAccepted() || f.hasError()).toList());

      // a refused send retried (same clientMsgId, as a client should) goes through once tokens are back
      String retried = limited.iterator().next();
      long seq = -1;
      long deadline = System.nanoTime() + WsClient.TIMEOUT.toNanos();
      while (seq < 0) {
        assertTrue(System.nanoTime() < deadline, "the rate limiter never let the retry through");
        c.sendJson(send(retried, "user:flood-peer", "retried"));
        ServerFrame answer =
            c.expect(
                f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(retried)
                    || f.hasError() && f.getError().getRef().equals(retried),
                "answer to the retry");
        if (answer.hasAccepted()) {
          seq = answer.getAccepted().getSeq();
        } else {
          assertEquals("RATE_LIMITED", answer.getError().getCode());
        }
      }
      assertEquals(accepted.size() + 1, seq, "the next seq, no gap");
      stored = accepted.size() + 1;
    }
    try (WsClient peer = connect("flood-peer")) {
      List<Message> received = awaitInbox(peer, stored, 100);
      assertEquals(stored, received.size(), "the recipient got each accepted send once");
      assertGapFree(received);
    }
  }

  @Test
  void connectionsAboveThePerUserLimitAreRefusedWith4029() {
    try (WsClient first = connect("cpu-user"); WsClient second = connect("cpu-user")) {
      try (WsClient third = WsClient.connect(node.wsUri(Tokens.valid("cpu-user")))) {
        // sent at once, before the refusal arrives if the race allows: it must not run
        try {
          third.sendJson("{\"send\":{\"clientMsgId\":\"refused\",\"to\":\"user:cpu-peer\",\"text\":\"from a refused connection\"}}");
        } catch (java.util.concurrent.CompletionException closedAlready) {
          // the refusal and close came first: the client could not send at all
        }
        third.expectError("", "RATE_LIMITED");
        assertEquals(CLOSE_TOO_MANY_CONNECTIONS, third.awaitClose());
        assertTrue(third.unconsumed().stream().noneMatch(ServerFrame::hasWelcome), "the refused one never got a session");
        assertTrue(third.unconsumed().stream().noneMatch(ServerFrame::hasAccepted), "nothing ran on the refused connection");
      }
      assertEquals(1, sendOk(first, "c1", "user:cpu-peer", "first still works"), "the refused send was not stored");
      assertEquals(2, sendOk(second, "c2", "user:cpu-peer", "second still works"));
      // each device sees the other's message: both are still registered
      second.expect(f -> f.hasMessage() && f.getMessage().getSeq() == 1, "first's message on the second");
      first.expect(f -> f.hasMessage() && f.getMessage().getSeq() == 2, "second's message on the first");
    }
    // the slots free up when connections go (asynchronously: the entity sees the sessions stop)
    try (WsClient a = awaitSlot(node, "cpu-user"); WsClient b = awaitSlot(node, "cpu-user")) {
      assertUsable(a);
      assertUsable(b);
    }
  }

  /** A welcomed connection for {@code user}, retrying while the per-user limit refuses it. */
  private static WsClient awaitSlot(RouterTestNode on, String user) {
    long deadline = System.nanoTime() + WsClient.TIMEOUT.toNanos();
    WsClient c;
    while ((c = tryConnect(on, user)) == null) {
      assertTrue(System.nanoTime() < deadline, "no free connection slot for " + user);
    }
    return c;
  }

  /** A welcomed connection, or null when the per-user limit refuses it (4029). */
  private static WsClient tryConnect(RouterTestNode on, String user) {
    WsClient c = WsClient.connect(on.wsUri(Tokens.valid(user)));
    ServerFrame first = c.expect(f -> f.hasWelcome() || f.hasError(), "welcome or refusal");
    if (first.hasWelcome()) {
      return c;
    }
    assertEquals("RATE_LIMITED", first.getError().getCode());
    assertEquals(CLOSE_TOO_MANY_CONNECTIONS, c.awaitClose());
    c.close();
    return null;
  }

  // ------------------------------------------------------------------ slow consumer

  @Test
  void aClientThatStopsReadingIsClosedWith4008AndLosesNothing() throws IOException {
    int textChars = 32 * 1024;
    int batch = 10;
    int maxMessages = 400;
    String filler = "s".repeat(textChars);
    // One connection per user, so that a second connection of the reader is let in exactly when
    // the server has dropped the stalled one: that is how the test knows, without a clock. Small
    // server socket buffers (and a small receive window on the client) so that TCP does not
    // soak up megabytes before the outbound buffer sees any backpressure.
    Map<String, Object> limits =
        Map.of(
            "router.limits.outbound-buffer", 8,
            "router.limits.connections-per-user", 1,
            "router.limits.sends-per-second", 100_000,
            "router.limits.send-burst", 100_000,
            "pekko.http.server.socket-options.so-send-buffer-size", "64KiB");
    try (RouterTestNode slowNode = new RouterTestNode("bad_input_slow", limits);
        RawWebSocket stalled = new RawWebSocket(slowNode.wsUri(Tokens.valid("slow-reader")), RawWebSocket.SMALL_BUFFER);
        WsClient flooder = connect(slowNode, "slow-flooder")) {
      stalled.awaitFrame(ServerFrame::hasWelcome); // registered; from here on it reads nothing
      int sent = 0;
      WsClient reader = null;
      while (reader == null) {
        assertTrue(sent < maxMessages, "the stalled client was not disconnected after " + sent + " messages");
        for (int i = 0; i < batch; i++, sent++) {
          // one at a time: the flooder itself must never be a slow consumer
          assertEquals(sent + 1, sendOk(flooder, "s" + sent, "user:slow-reader", sent + " " + filler));
        }
        reader = tryConnect(slowNode, "slow-reader");
      }
      try (WsClient r = reader) {
        List<Message> inbox = awaitInbox(r, sent, 20);
        assertEquals(sent, inbox.size(), "every message is in the reader's inbox");
        assertGapFree(inbox);
        for (int i = 0; i < sent; i++) {
          assertEquals(i + " " + filler, inbox.get(i).getText(), "in send order");
        }
      }
      assertEquals(CLOSE_SLOW_CONSUMER, stalled.closeCode(), "after what was already on the wire, the close says why");
    }
  }

  @Test
  void historyPagesAreBoundedInBytesAndPipelinedSyncsCannotHoldMoreThanTheOutboundBytes() throws IOException {
    int textChars = 30 * 1024;
    String filler = "b".repeat(textChars);
    Map<String, Object> limits =
        Map.of(
            "router.limits.sync-max-bytes", "64KiB",
            "router.limits.outbound-buffer-bytes", "256KiB",
            "router.limits.sends-per-second", 100_000,
            "router.limits.send-burst", 100_000,
            "pekko.http.server.socket-options.so-send-buffer-size", "64KiB");
    try (RouterTestNode bytesNode = new RouterTestNode("bad_input_bytes", limits);
        WsClient sender = connect(bytesNode, "bytes-sender")) {
      for (int i = 0; i < 5; i++) {
        sendOk(sender, "p" + i, "user:bytes-pager", i + " " + filler);
      }
      try (WsClient pager = connect(bytesNode, "bytes-pager")) {
        History first = sync(pager, "inbox", 0, 100);
        // 30 KiB items against 64 KiB: the page ends with the item that passes the bound
        assertEquals(3, first.getItemsCount());
        assertTrue(first.getHasMore(), "the rest is announced");
        History rest = sync(pager, "inbox", first.getItems(2).getMessage().getSeq(), 100);
        assertEquals(2, rest.getItemsCount());
        assertFalse(rest.getHasMore());
      }

      for (int i = 0; i < 5; i++) {
        sendOk(sender, "q" + i, "user:bytes-stalled", i + " " + filler);
      }
      try (RawWebSocket stalled = new RawWebSocket(bytesNode.wsUri(Tokens.valid("bytes-stalled")), RawWebSocket.SMALL_BUFFER)) {
        stalled.awaitFrame(ServerFrame::hasWelcome); // from here on it reads nothing
        byte[] syncAll = "{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0,\"limit\":100}}".getBytes(UTF_8);
        for (int i = 0; i < 40; i++) { // 40 pages of ~90 KiB: far fewer frames than the frame limit (1024)
          stalled.sendFrame(RawWebSocket.OP_TEXT, true, syncAll, true);
        }
        assertEquals(CLOSE_SLOW_CONSUMER, stalled.closeCode(), "the bytes it did not read, not a frame count, closed it");
      }
    }
  }

  /**
   * A bare RFC 6455 client on a plain socket, for what the JDK client cannot do: stop reading
   * entirely with a small TCP receive window (so backpressure reaches the server after a few
   * KiB instead of megabytes), and send one message in several fragments.
   */
  private static final class RawWebSocket implements AutoCloseable {
    static final int SMALL_BUFFER = 4096;
    static final int DEFAULT_BUFFER = 0;
    private static final int OP_CONTINUATION = 0x0;
    static final int OP_TEXT = 0x1;
    private static final int OP_BINARY = 0x2;
    private static final int OP_CLOSE = 0x8;
    private static final int NO_STATUS = 1005;

    private final SecureRandom random = new SecureRandom();
    private final Socket socket = new Socket();
    private final DataInputStream in;
    private final OutputStream out;

    RawWebSocket(URI uri, int receiveBuffer) throws IOException {
      if (receiveBuffer > 0) {
        socket.setReceiveBufferSize(receiveBuffer); // before connect: the window scale is agreed then
      }
      socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), (int) WsClient.TIMEOUT.toMillis());
      socket.setSoTimeout((int) WsClient.TIMEOUT.toMillis());
      in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
      out = socket.getOutputStream();
      byte[] key = new byte[16];
      random.nextBytes(key);
      String request =
          "GET " + uri.getRawPath() + "?" + uri.getRawQuery() + " HTTP/1.1\r\n"
              + "Host: " + uri.getHost() + ":" + uri.getPort() + "\r\n"
              + "Upgrade: websocket\r\n"
              + "Connection: Upgrade\r\n"
              + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(key) + "\r\n"
              + "Sec-WebSocket-Version: 13\r\n\r\n";
      out.write(request.getBytes(US_ASCII));
      out.flush();
      String status = readLine();
      if (!status.startsWith("HTTP/1.1 101")) {
        throw new IOException("upgrade refused: " + status);
      }
      while (!readLine().isEmpty()) {
        // response headers: not needed
      }
    }

    private String readLine() throws IOException {
      StringBuilder line = new StringBuilder();
      for (int b = in.read(); b != '\n'; b = in.read()) {
        if (b < 0) {
          throw new EOFException("connection closed during the handshake");
        }
        if (b != '\r') {
          line.append((char) b);
        }
      }
      return line.toString();
    }

    private record Frame(int opcode, byte[] payload) {}

    /** The next frame from the server (server frames are not masked). */
    private Frame read() throws IOException {
      int first = in.readUnsignedByte();
      int second = in.readUnsignedByte();
      long length = second & 0x7F;
      if (length == 126) {
        length = in.readUnsignedShort();
      } else if (length == 127) {
        length = in.readLong();
      }
      byte[] payload = new byte[Math.toIntExact(length)];
      in.readFully(payload);
      return new Frame(first & 0x0F, payload);
    }

    /** Reads frames until one is a server frame that matches (fragmented server messages are not expected). */
    ServerFrame awaitFrame(java.util.function.Predicate<ServerFrame> condition) throws IOException {
      while (true) {
        Frame f = read();
        if (f.opcode() == OP_CLOSE) {
          throw new AssertionError("closed while waiting for a frame");
        }
        ServerFrame frame = parse(f);
        if (frame != null && condition.test(frame)) {
          return frame;
        }
      }
    }

    private static ServerFrame parse(Frame f) throws InvalidProtocolBufferException {
      if (f.opcode() == OP_TEXT) {
        ServerFrame.Builder b = ServerFrame.newBuilder();
        JsonFormat.parser().merge(new String(f.payload(), UTF_8), b);
        return b.build();
      }
      return f.opcode() == OP_BINARY ? ServerFrame.parseFrom(f.payload()) : null;
    }

    /** Reads past everything the server queued before its close frame; the close code. */
    int closeCode() throws IOException {
      while (true) {
        Frame f = read();
        if (f.opcode() == OP_CLOSE) {
          byte[] p = f.payload();
          return p.length >= 2 ? (p[0] & 0xFF) << 8 | p[1] & 0xFF : NO_STATUS;
        }
      }
    }

    /** One text message in {@code parts} fragments. */
    void sendFragmented(byte[] message, int parts) throws IOException {
      int size = (message.length + parts - 1) / parts;
      for (int i = 0; i < parts; i++) {
        int from = i * size;
        int to = Math.min(message.length, from + size);
        byte[] part = java.util.Arrays.copyOfRange(message, from, to);
        sendFrame(i == 0 ? OP_TEXT : OP_CONTINUATION, i == parts - 1, part, true);
      }
    }

    /** A client frame; RFC 6455 §5.3 requires {@code masked}. */
    void sendFrame(int opcode, boolean fin, byte[] payload, boolean masked) throws IOException {
      ByteArrayOutputStream frame = new ByteArrayOutputStream(payload.length + 14);
      frame.write((fin ? 0x80 : 0) | opcode);
      int maskBit = masked ? 0x80 : 0;
      if (payload.length < 126) {
        frame.write(maskBit | payload.length);
      } else if (payload.length < 65536) {
        frame.write(maskBit | 126);
        frame.write(payload.length >>> 8);
        frame.write(payload.length & 0xFF);
      } else {
        frame.write(maskBit | 127);
        for (int shift = 56; shift >= 0; shift -= 8) {
          frame.write((int) ((long) payload.length >>> shift) & 0xFF);
        }
      }
      byte[] mask = new byte[4];
      if (masked) {
        random.nextBytes(mask);
        frame.write(mask, 0, 4);
      }
      for (int i = 0; i < payload.length; i++) {
        frame.write(payload[i] ^ mask[i % 4]);
      }
      out.write(frame.toByteArray());
      out.flush();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
