package org.imrouter.loadtest.metrics;

import java.util.concurrent.TimeUnit;
import org.HdrHistogram.ConcurrentHistogram;
import org.HdrHistogram.Histogram;

/**
 * A latency histogram that many threads record into (every WebSocket connection's stream
 * records on its own dispatcher thread). Values are kept in microseconds with three significant
 * digits, reported in milliseconds.
 */
public final class LatencyStats {
  /** Anything slower than this is recorded as this: a run never waits longer for an answer. */
  static final long HIGHEST_TRACKABLE_MICROS = TimeUnit.MINUTES.toMicros(10);

  private static final int SIGNIFICANT_DIGITS = 3;
  private static final double MICROS_PER_MILLI = 1000.0;

  private final ConcurrentHistogram histogram =
      new ConcurrentHistogram(1, HIGHEST_TRACKABLE_MICROS, SIGNIFICANT_DIGITS);

  /** Records a latency; a negative one (an answer before the intended time cannot happen) as 0. */
  public void recordNanos(long nanos) {
    long micros = Math.max(0, TimeUnit.NANOSECONDS.toMicros(nanos));
    histogram.recordValue(Math.min(micros, HIGHEST_TRACKABLE_MICROS));
  }

  public long count() {
    return histogram.getTotalCount();
  }

  public Percentiles percentiles() {
    Histogram copy = histogram.copy();
    if (copy.getTotalCount() == 0) {
      return Percentiles.EMPTY;
    }
    return new Percentiles(
        copy.getTotalCount(),
        ms(copy.getValueAtPercentile(50)),
        ms(copy.getValueAtPercentile(90)),
        ms(copy.getValueAtPercentile(99)),
        ms(copy.getMaxValue()));
  }

  private static double ms(long micros) {
    return micros / MICROS_PER_MILLI;
  }
}
