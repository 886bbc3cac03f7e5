package org.imrouter.loadtest.check;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Live order of every stream a session follows: each pushed item must carry the seq right after
 * the last one the session saw (starting from the welcome's lastSeq). An item further ahead is a
 * gap (items were skipped); one at or below the last is out of order (replayed or reordered).
 */
public final class SeqGapChecker {
  /** What an observed item was. */
  public enum Outcome {
    IN_ORDER,
    GAP,
    OUT_OF_ORDER
  }

  private final Map<StreamKey, AtomicLong> last = new ConcurrentHashMap<>();
  private final LongAdder gaps = new LongAdder();
  private final LongAdder missingSeqs = new LongAdder();
  private final LongAdder outOfOrder = new LongAdder();

  /** The session's starting point for a stream (welcome lastSeq). */
  public void start(StreamKey key, long lastSeq) {
    last.put(key, new AtomicLong(lastSeq));
  }

  /**
   * Records a pushed item. A stream the session was not told about (a group it joined after the
   * welcome) starts at its first item.
   */
  public Outcome observe(StreamKey key, long seq) {
    AtomicLong cursor = last.computeIfAbsent(key, k -> new AtomicLong(seq - 1));
    // one session's frames arrive in order on one stream, so the cursor has a single writer at a time
    long previous = cursor.get();
    if (seq == previous + 1) {
      cursor.set(seq);
      return Outcome.IN_ORDER;
    }
    if (seq > previous + 1) {
      gaps.increment();
      missingSeqs.add(seq - previous - 1);
      cursor.set(seq);
      return Outcome.GAP;
    }
    outOfOrder.increment();
    return Outcome.OUT_OF_ORDER;
  }

  /** The last seq the session saw on a stream, or empty before any. */
  public long lastSeq(StreamKey key, long orElse) {
    AtomicLong cursor = last.get(key);
    return cursor == null ? orElse : cursor.get();
  }

  public long gaps() {
    return gaps.sum();
  }

  public long missingSeqs() {
    return missingSeqs.sum();
  }

  public long outOfOrder() {
    return outOfOrder.sum();
  }
}
