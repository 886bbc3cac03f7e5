package org.imrouter.loadtest.check;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

/**
 * Stored == delivered: at the end of a run each session reads its streams back with {@code sync}
 * from where its welcome started, and the number of stored items must equal the number it got
 * live. Fewer stored means a push of something not durable; more means a live push went missing.
 */
public final class StoredDeliveredChecker {
  /** A stream whose stored and live counts differ. */
  public record Mismatch(StreamKey key, long stored, long live) {}

  private final List<Mismatch> mismatches = new CopyOnWriteArrayList<>();
  private final LongAdder compared = new LongAdder();

  public boolean compare(StreamKey key, long stored, long live) {
    compared.increment();
    if (stored != live) {
      mismatches.add(new Mismatch(key, stored, live));
      return false;
    }
    return true;
  }

  public long compared() {
    return compared.sum();
  }

  public List<Mismatch> mismatches() {
    return List.copyOf(mismatches);
  }
}
