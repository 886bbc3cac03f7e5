package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.persistence.JournalSchema;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Direct messages end to end over real WebSockets against a node on the real Cassandra: the
 * delivery guarantees of the design (durable accept, gap-free order, FIFO, idempotent send,
 * multi-device), offline sync with paging, both encodings, read cursors, restart.
 */
class DirectMessagingTest {
  /** Small, so that paging reaches past the in-memory window into the journal. */
  private static final int RECENT_ITEMS = 3;
  private static final Duration SCHEMA_READ_TIMEOUT = Duration.ofSeconds(30);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node = new RouterTestNode("direct_messaging", Map.of("router.entity.recent-items", RECENT_ITEMS));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  /** The node created its journal keyed by sequence number, so a stale write cannot add a row. */
  @Test
  void theNodesJournalIsKeyedBySequenceNumber() {
    assertEquals(List.of("sequence_nr"), JournalSchema.journalKey(node.system(), SCHEMA_READ_TIMEOUT));
  }

  private static WsClient connect(String user) {
    return node.welcomed(user);
  }

  private static String send(String id, String to, String text) {
    return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"" + to + "\",\"text\":\"" + text + "\"}}";
  }

  private static History sync(WsClient c, String stream, long afterSeq, int limit) {
    c.sendJson("{\"sync\":{\"stream\":\"" + stream + "\",\"afterSeq\":" + afterSeq + ",\"limit\":" + limit + "}}");
    return c.expect(f -> f.hasHistory() && f.getHistory().getStream().equals(stream), "history of " + stream).getHistory();
  }

  @Test
  void recipientGetsTheMessageLiveWithTheOtherPartyAsConversation() {
    try (WsClient alice = connect("dm-alice"); WsClient bob = connect("dm-bob")) {
      alice.sendJson(send("c1", "user:dm-bob", "hi bob"));
      Accepted accepted = alice.expectAccepted("c1").getAccepted();
      assertEquals("inbox", accepted.getStream());
      assertEquals(1, accepted.getSeq());

      Message received = bob.expect(ServerFrame::hasMessage, "message for bob").getMessage();
      assertEquals("hi bob", received.getText());
      assertEquals("dm-alice", received.getFrom());
      assertEquals("user:dm-alice", received.getConversation());
      assertEquals(accepted.getMsgId(), received.getMsgId(), "both copies carry the same msgId");

      Message own = alice.expect(ServerFrame::hasMessage, "sender's copy").getMessage();
      assertEquals("user:dm-bob", own.getConversation());
      assertEquals(accepted.getSeq(), own.getSeq());
    }
  }

  @Test
  void seqsAreGapFreeAndMessagesKeepSendOrder() {
    int count = 40;
    try (WsClient alice = connect("fifo-alice"); WsClient bob = connect("fifo-bob")) {
      for (int i = 0; i < count; i++) {
        alice.sendJson(send("m" + i, "user:fifo-bob", "n" + i)); // pipelined, no waiting
      }
      for (int i = 0; i < count; i++) {
        long seq = i + 1;
        Message m = bob.expect(f -> f.hasMessage() && f.getMessage().getSeq() == seq, "bob seq " + seq).getMessage();
        assertEquals("n" + i, m.getText(), "FIFO per sender per conversation");
      }
      for (int i = 0; i < count; i++) {
        assertEquals(i + 1, alice.expectAccepted("m" + i).getAccepted().getSeq(), "sender's inbox seqs are gap-free");
      }
    }
  }

  @Test
  void resendingTheSameClientMsgIdReturnsTheOriginalAndCreatesNothing() {
    try (WsClient alice = connect("idem-alice"); WsClient bob = connect("idem-bob")) {
      alice.sendJson(send("same", "user:idem-bob", "once"));
      alice.sendJson(send("same", "user:idem-bob", "once")); // retry while the first is in flight
      Accepted first = alice.expectAccepted("same").getAccepted();
      Accepted second = alice.expectAccepted("same").getAccepted();
      alice.sendJson(send("same", "user:idem-bob", "once")); // retry after acceptance
      Accepted third = alice.expectAccepted("same").getAccepted();
      assertEquals(first, second);
      assertEquals(first, third);

      alice.sendJson(send("next", "user:idem-bob", "twice"));
      assertEquals(first.getSeq() + 1, alice.expectAccepted("next").getAccepted().getSeq(), "the retries created no item");
      bob.expect(f -> f.hasMessage() && f.getMessage().getText().equals("twice"), "second message");
      History bobInbox = sync(bob, "inbox", 0, 100);
      assertEquals(2, bobInbox.getItemsCount(), "the recipient stored the message once");
    }
  }

  @Test
  void everyDeviceOfBothUsersGetsTheMessage() {
    try (WsClient phone = connect("md-alice");
        WsClient laptop = connect("md-alice");
        WsClient bobPhone = connect("md-bob");
        WsClient bobLaptop = connect("md-bob")) {
      phone.sendJson(send("x1", "user:md-bob", "from my phone"));
      String msgId = phone.expectAccepted("x1").getAccepted().getMsgId();
      for (WsClient device : List.of(phone, laptop, bobPhone, bobLaptop)) {
        Message m = device.expect(ServerFrame::hasMessage, "message on every device").getMessage();
        assertEquals(msgId, m.getMsgId());
      }
    }
  }

  @Test
  void offlineUserSyncsInPagesFromMemoryAndJournal() {
    int count = 8;
    try (WsClient dave = connect("sync-dave")) {
      for (int i = 0; i < count; i++) {
        dave.sendJson(send("s" + i, "user:sync-carol", "msg " + i));
        dave.expectAccepted("s" + i);
      }
    }
    try (WsClient carol = WsClient.connect(node.wsUri(Tokens.valid("sync-carol")))) {
      var streams = carol.welcome().getWelcome().getStreamsList();
      // the transfer to carol is asynchronous: wait until the inbox has all of them
      History all = awaitInbox(carol, count);
      assertEquals(count, all.getItemsCount());
      assertTrue(streams.stream().anyMatch(s -> s.getStream().equals("inbox")));

      List<String> texts = new ArrayList<>();
      long after = 0;
      boolean more = true;
      while (more) {
        History page = sync(carol, "inbox", after, 3);
        assertTrue(page.getItemsCount() <= 3);
        for (var item : page.getItemsList()) {
          assertEquals(after + 1, item.getMessage().getSeq(), "pages are gap-free");
          after = item.getMessage().getSeq();
          texts.add(item.getMessage().getText());
        }
        more = page.getHasMore();
      }
      List<String> expected = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        expected.add("msg " + i);
      }
      assertEquals(expected, texts);
    }
  }

  private static History awaitInbox(WsClient c, int items) {
    long deadline = System.nanoTime() + WsClient.TIMEOUT.toNanos();
    while (true) {
      History h = sync(c, "inbox", 0, 100);
      if (h.getItemsCount() >= items || System.nanoTime() > deadline) {
        return h;
      }
      c.roundTrip(System.nanoTime()); // one more server round trip before asking again
    }
  }

  @Test
  void binaryClientsGetProtobufAndTextClientsGetJson() {
    try (WsClient bin = WsClient.connect(node.wsUri(Tokens.valid("enc-bin")));
        WsClient json = connect("enc-json")) {
      bin.welcome();
      bin.send(ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId("b1").setTo("user:enc-json").setText("binary hi")).build());
      bin.expectAccepted("b1");
      assertTrue(bin.lastWasBinary() || bin.unconsumed().stream().anyMatch(ServerFrame::hasMessage));
      Message m = json.expect(ServerFrame::hasMessage, "json copy").getMessage();
      assertEquals("binary hi", m.getText());
      assertFalse(json.lastWasBinary(), "text client answered in JSON");
      bin.roundTrip(1); // a JSON ping: the answer follows the client's latest encoding
      assertFalse(bin.lastWasBinary());
    }
  }

  @Test
  void readCursorSyncsToOtherDevicesAndNeverMovesBack() {
    try (WsClient a1 = connect("read-alice"); WsClient a2 = connect("read-alice")) {
      for (int i = 0; i < 3; i++) {
        a1.sendJson(send("r" + i, "user:read-bob", "m" + i));
        a1.expectAccepted("r" + i);
      }
      a1.sendJson("{\"read\":{\"stream\":\"inbox\",\"seq\":2}}");
      var read = a2.expect(f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.READ, "READ on the other device").getSystem();
      assertEquals("inbox", read.getTarget());
      assertEquals(2, read.getReadSeq());
      a1.sendJson("{\"read\":{\"stream\":\"inbox\",\"seq\":1}}"); // backwards: ignored
      a1.roundTrip(5);
      a1.sendJson("{\"read\":{\"stream\":\"inbox\",\"seq\":3}}");
      var next = a2.expect(f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.READ, "second READ").getSystem();
      assertEquals(3, next.getReadSeq(), "the backwards move created no item");
    }
    try (WsClient again = WsClient.connect(node.wsUri(Tokens.valid("read-alice")))) {
      var inbox = again.welcome().getWelcome().getStreamsList().stream().filter(s -> s.getStream().equals("inbox")).findFirst().orElseThrow();
      assertEquals(3, inbox.getReadSeq());
    }
  }

  @Test
  void aRestartKeepsEveryAcceptedMessageWithItsSeqAndMsgId() {
    List<Accepted> accepted = new ArrayList<>();
    try (WsClient alice = connect("rs-alice")) {
      for (int i = 0; i < 5; i++) {
        alice.sendJson(send("k" + i, "user:rs-bob", "keep " + i));
      }
      for (int i = 0; i < 5; i++) {
        accepted.add(alice.expectAccepted("k" + i).getAccepted());
      }
    }
    node.restart();
    try (WsClient alice = WsClient.connect(node.wsUri(Tokens.valid("rs-alice")))) {
      var inbox = alice.welcome().getWelcome().getStreams(0);
      assertEquals(5, inbox.getLastSeq());
      History h = sync(alice, "inbox", 0, 100);
      assertEquals(5, h.getItemsCount());
      for (int i = 0; i < 5; i++) {
        Message m = h.getItems(i).getMessage();
        assertEquals(accepted.get(i).getSeq(), m.getSeq());
        assertEquals(accepted.get(i).getMsgId(), m.getMsgId());
        assertEquals("keep " + i, m.getText());
      }
    }
    try (WsClient bob = WsClient.connect(node.wsUri(Tokens.valid("rs-bob")))) {
      bob.welcome();
      History h = awaitInbox(bob, 5);
      assertEquals(5, h.getItemsCount(), "every accepted message reached the recipient exactly once");
      for (int i = 0; i < 5; i++) {
        assertEquals(accepted.get(i).getMsgId(), h.getItems(i).getMessage().getMsgId());
      }
    }
  }
}
