package org.imrouter.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.imrouter.protocol.v1.Message;
import org.junit.jupiter.api.Test;

/**
 * The checker's per-pair order is the order the sender created its messages, so it fails when
 * a later send of a pair is stored before an earlier one, even though the sender was told
 * {@code accepted} in store order.
 */
class StreamCheckerTest {
  private static long seq;

  private static Message sent(String from, String to, int n) {
    seq++;
    return Message.newBuilder().setSeq(seq).setMsgId("m" + seq).setFrom(from).setConversation("user:" + to).setText(from + "-" + n).build();
  }

  private static List<String> byRecipientSide(List<Message> items) {
    return StreamChecker.outOfCreationOrder("bob", items, Message::getFrom);
  }

  @Test
  void messagesStoredInTheOrderTheirSendersCreatedThemPass() {
    List<Message> inbox = List.of(sent("ann", "bob", 0), sent("cy", "bob", 4), sent("ann", "bob", 1), sent("ann", "bob", 7), sent("cy", "bob", 5));
    assertEquals(List.of(), byRecipientSide(inbox));
  }

  @Test
  void aLaterSendStoredBeforeAnEarlierOneOfThePairFails() {
    // ann created 2 then 3 back to back; 3 was stored first (and so acknowledged first)
    List<Message> inbox = List.of(sent("ann", "bob", 1), sent("ann", "bob", 3), sent("cy", "bob", 0), sent("ann", "bob", 2));
    List<String> found = byRecipientSide(inbox);
    assertEquals(1, found.size(), found.toString());
    assertTrue(found.get(0).startsWith("bob: ann-2 (seq "), found.get(0));
  }

  @Test
  void theSendersSideIsCheckedPerConversation() {
    // in ann's own inbox: to bob 5 then 6 is fine, to cy 9 before 8 is not
    List<Message> inbox = List.of(sent("ann", "bob", 5), sent("ann", "cy", 9), sent("ann", "bob", 6), sent("ann", "cy", 8));
    List<String> found = StreamChecker.outOfCreationOrder("ann", inbox, Message::getConversation);
    assertEquals(1, found.size(), found.toString());
  }

  @Test
  void creationNumbersAreReadAsNumbersNotText() {
    // "ann-10" sorts before "ann-9" as text
    assertEquals(List.of(), byRecipientSide(List.of(sent("ann", "bob", 9), sent("ann", "bob", 10))));
    assertEquals(10, StreamChecker.creationNumber("load-n1-2-10"));
  }

  @Test
  void extraCopiesOfOneMessageAreCounted() {
    Message once = sent("ann", "bob", 1);
    Message twice = sent("ann", "bob", 2);
    Message twiceAgain = twice.toBuilder().setSeq(99).setMsgId("other").build(); // stored again under a new msgId
    assertEquals(0, StreamChecker.extraCopies(List.of(once, twice)));
    assertEquals(2, StreamChecker.extraCopies(List.of(once, twice, twiceAgain, twice)));
  }
}
