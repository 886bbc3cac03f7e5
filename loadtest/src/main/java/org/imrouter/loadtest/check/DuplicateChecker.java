package org.imrouter.loadtest.check;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** Exactly-once delivery: the same msgId must not reach one session twice on one stream. */
public final class DuplicateChecker {
  private final Map<StreamKey, Set<String>> seen = new ConcurrentHashMap<>();
  private final LongAdder duplicates = new LongAdder();

  /** Records a delivered item; returns true if the session already had it. */
  public boolean observe(StreamKey key, String msgId) {
    boolean fresh = seen.computeIfAbsent(key, k -> ConcurrentHashMap.newKeySet()).add(msgId);
    if (!fresh) {
      duplicates.increment();
    }
    return !fresh;
  }

  public long duplicates() {
    return duplicates.sum();
  }
}
