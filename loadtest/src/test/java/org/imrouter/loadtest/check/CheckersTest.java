package org.imrouter.loadtest.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CheckersTest {
  private static final StreamKey BOB = new StreamKey("s1", "inbox");
  private static final StreamKey CAROL = new StreamKey("s2", "inbox");

  @Test
  void seqCheckerAcceptsAnUnbrokenRunFromTheWelcome() {
    SeqGapChecker c = new SeqGapChecker();
    c.start(BOB, 10);
    for (long seq = 11; seq <= 20; seq++) {
      assertEquals(SeqGapChecker.Outcome.IN_ORDER, c.observe(BOB, seq));
    }
    assertEquals(0, c.gaps());
    assertEquals(0, c.outOfOrder());
    assertEquals(20, c.lastSeq(BOB, -1));
  }

  @Test
  void seqCheckerCatchesALostItem() {
    SeqGapChecker c = new SeqGapChecker();
    c.start(BOB, 0);
    c.observe(BOB, 1);
    assertEquals(SeqGapChecker.Outcome.GAP, c.observe(BOB, 3)); // 2 never came
    assertEquals(1, c.gaps());
    assertEquals(1, c.missingSeqs());
  }

  @Test
  void seqCheckerCatchesAGapRightAfterTheWelcome() {
    SeqGapChecker c = new SeqGapChecker();
    c.start(BOB, 5);
    assertEquals(SeqGapChecker.Outcome.GAP, c.observe(BOB, 9));
    assertEquals(3, c.missingSeqs());
  }

  @Test
  void seqCheckerCatchesReorderedAndReplayedItems() {
    SeqGapChecker c = new SeqGapChecker();
    c.start(BOB, 0);
    c.observe(BOB, 1);
    c.observe(BOB, 3); // 2 overtaken by 3
    assertEquals(SeqGapChecker.Outcome.OUT_OF_ORDER, c.observe(BOB, 2));
    assertEquals(SeqGapChecker.Outcome.OUT_OF_ORDER, c.observe(BOB, 3)); // a replay
    assertEquals(1, c.gaps());
    assertEquals(2, c.outOfOrder());
  }

  @Test
  void seqCheckerKeepsStreamsAndSessionsApart() {
    SeqGapChecker c = new SeqGapChecker();
    c.start(BOB, 0);
    c.start(CAROL, 100);
    c.observe(BOB, 1);
    c.observe(CAROL, 101);
    c.observe(new StreamKey("s1", "group:g"), 40); // a group joined after the welcome starts at its first item
    c.observe(new StreamKey("s1", "group:g"), 41);
    assertEquals(0, c.gaps() + c.outOfOrder());
  }

  @Test
  void duplicateCheckerCatchesTheSameMsgIdTwiceOnOneStream() {
    DuplicateChecker d = new DuplicateChecker();
    assertFalse(d.observe(BOB, "m1"));
    assertFalse(d.observe(BOB, "m2"));
    assertFalse(d.observe(CAROL, "m1")); // the same message on another session is fine
    assertTrue(d.observe(BOB, "m1"));
    assertEquals(1, d.duplicates());
  }

  @Test
  void lossCheckerCatchesAnAcceptedMessageThatNeverArrived() {
    LossChecker l = new LossChecker();
    l.sent("c1", Set.of("s1"));
    l.sent("c2", Set.of("s1"));
    l.accepted("c1");
    l.accepted("c2");
    l.delivered("c1", "s1");
    List<LossChecker.Lost> lost = l.lost();
    assertEquals(1, lost.size());
    assertEquals("c2", lost.get(0).id());
    assertEquals(Set.of("s1"), lost.get(0).missing());
    assertEquals(1, l.lostDeliveries());
  }

  @Test
  void lossCheckerIsNotFooledByADuplicateOrTheWrongReceiver() {
    LossChecker l = new LossChecker();
    l.sent("c1", Set.of("s1", "s2"));
    l.accepted("c1");
    l.delivered("c1", "s1");
    l.delivered("c1", "s1"); // a duplicate to s1 must not stand in for s2's copy
    l.delivered("c1", "s9"); // nor a copy to someone else
    assertFalse(l.complete("c1"));
    assertEquals(Set.of("s2"), l.lost().get(0).missing());
    l.delivered("c1", "s2");
    assertTrue(l.complete("c1"));
    assertEquals(0, l.lostDeliveries());
  }

  @Test
  void lossCheckerIgnoresMessagesThatWereNeverAccepted() {
    LossChecker l = new LossChecker();
    l.sent("c1", Set.of("s1")); // refused with an error: the sender knows, nothing was promised
    assertEquals(0, l.lostDeliveries());
  }

  @Test
  void storedCheckerCatchesMoreOrFewerStoredThanDelivered() {
    StoredDeliveredChecker s = new StoredDeliveredChecker();
    assertTrue(s.compare(BOB, 10, 10));
    assertFalse(s.compare(CAROL, 10, 9));
    assertFalse(s.compare(new StreamKey("s3", "inbox"), 8, 9));
    assertEquals(3, s.compared());
    assertEquals(2, s.mismatches().size());
    assertEquals(new StoredDeliveredChecker.Mismatch(CAROL, 10, 9), s.mismatches().get(0));
  }

  @Test
  void summaryCountsEveryKindOfViolation() {
    Checks checks = new Checks();
    assertEquals(0, checks.summary().violations());
    checks.seqs.start(BOB, 0);
    checks.seqs.observe(BOB, 2);
    checks.duplicates.observe(BOB, "m");
    checks.duplicates.observe(BOB, "m");
    checks.stored.compare(BOB, 1, 2);
    assertEquals(3, checks.summary().violations());
  }
}
