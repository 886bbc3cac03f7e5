package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The dedup window's bounds: per sender by count and age, per stream by total, largest sender first. */
class DedupWindowTest {
  private static final int PER_SENDER = 5;
  private static final int TOTAL = 12;
  private static final long MAX_AGE = 1_000;

  private static Reply.Accepted accepted(String key, long seq, long ts) {
    return new Reply.Accepted(key, "group:g", seq, "m" + seq, ts);
  }

  @Test
  void aQuietSendersKeySurvivesAFloodFromAnotherSender() {
    DedupWindow w = DedupWindow.empty(PER_SENDER, TOTAL, MAX_AGE);
    w = w.remember("alice", accepted("a1", 1, 0), 0);
    for (int i = 0; i < 10 * TOTAL; i++) {
      w = w.remember("bob", accepted("b" + i, i + 2, 0), 0);
    }
    assertEquals(1, w.find("alice", "a1").get().seq(), "alice's key outlives bob's flood");
    assertTrue(w.find("bob", "b0").isEmpty(), "bob's own keys are bounded by his count");
    assertTrue(w.find("bob", "b" + (10 * TOTAL - 1)).isDefined());
    assertEquals(1 + PER_SENDER, w.size());
  }

  @Test
  void keysAreTheSendersOwn() {
    DedupWindow w = DedupWindow.empty(PER_SENDER, TOTAL, MAX_AGE).remember("alice", accepted("k", 1, 0), 0);
    assertTrue(w.find("bob", "k").isEmpty());
    assertEquals(w, w.remember("alice", accepted("k", 2, 0), 0), "a key is remembered once, as first accepted");
  }

  @Test
  void pastTheTotalTheSenderWithTheMostKeysLosesItsOldest() {
    DedupWindow w = DedupWindow.empty(PER_SENDER, TOTAL, MAX_AGE);
    // three senders with 5, 4 and 3 keys: 12, the total
    String[] senders = {"a", "b", "c"};
    int seq = 0;
    for (int s = 0; s < senders.length; s++) {
      for (int i = 0; i < PER_SENDER - s; i++) {
        w = w.remember(senders[s], accepted(senders[s] + i, ++seq, 0), 0);
      }
    }
    assertEquals(TOTAL, w.size());
    w = w.remember("d", accepted("d0", ++seq, 0), 0);
    assertEquals(TOTAL, w.size());
    assertTrue(w.find("a", "a0").isEmpty(), "the largest sender lost its oldest key");
    assertTrue(w.find("a", "a1").isDefined());
    assertTrue(w.find("c", "c0").isDefined(), "smaller senders keep theirs");
    assertTrue(w.find("d", "d0").isDefined());
  }

  @Test
  void aSendersKeysOlderThanTheWindowGoWhenItSendsAgain() {
    DedupWindow w = DedupWindow.empty(PER_SENDER, TOTAL, MAX_AGE).remember("alice", accepted("old", 1, 0), 0);
    w = w.remember("bob", accepted("b", 2, MAX_AGE + 1), MAX_AGE + 1);
    assertTrue(w.find("alice", "old").isDefined(), "kept at least the window, however long the sender is quiet");
    w = w.remember("alice", accepted("new", 3, MAX_AGE + 1), MAX_AGE + 1);
    assertTrue(w.find("alice", "old").isEmpty());
    assertTrue(w.find("alice", "new").isDefined());
  }

  @Test
  void theSnapshotFormRestoresTheSameWindowAndReadsEarlierKeys() {
    DedupWindow w = DedupWindow.empty(PER_SENDER, TOTAL, MAX_AGE)
        .remember("alice", accepted("a1", 1, 5), 5)
        .remember("system:billing", accepted("inv\n1", 2, 6), 6);
    var settings = new org.imrouter.node.config.RouterSettings.EntitySettings(
        0, PER_SENDER, TOTAL, java.time.Duration.ofMillis(MAX_AGE), 0, 0, null, null, 0, 0, 0, 0, true);
    assertEquals(w, DedupWindow.fromSnapshot(w.toSnapshot(), settings, "group:g", ""));
    // a snapshot of an earlier version wrote the inbox owner's keys bare
    var bare = org.imrouter.protocol.persist.Dedup.newBuilder().setKey("c1").setMsgId("m").setSeq(3).setTs(7).build();
    assertEquals(3, DedupWindow.fromSnapshot(java.util.List.of(bare), settings, "inbox", "alice").find("alice", "c1").get().seq());
  }
}
