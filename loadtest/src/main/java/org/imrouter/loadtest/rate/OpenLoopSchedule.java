package org.imrouter.loadtest.rate;

import java.time.Duration;

/**
 * When each send of one ladder step is due: {@code ratePerSecond} sends spread evenly over
 * {@code duration}. Send {@code i} is due at {@code i / rate} seconds after the step starts,
 * computed from {@code i} (not by adding intervals) so that rounding never drifts.
 */
public record OpenLoopSchedule(int ratePerSecond, Duration duration) {
  private static final long NANOS_PER_SECOND = 1_000_000_000L;

  public OpenLoopSchedule {
    if (ratePerSecond <= 0) {
      throw new IllegalArgumentException("rate must be positive: " + ratePerSecond);
    }
    if (duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException("duration must be positive: " + duration);
    }
  }

  /** How many sends the step makes. */
  public long count() {
    return Math.multiplyExact(duration.toNanos(), (long) ratePerSecond) / NANOS_PER_SECOND;
  }

  /** When send {@code i} is due, in nanoseconds after the step's start. */
  public long offsetNanos(long i) {
    return Math.multiplyExact(i, NANOS_PER_SECOND) / ratePerSecond;
  }
}
