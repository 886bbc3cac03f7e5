package org.imrouter.loadtest.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Latency percentiles per second of a run, for the report's charts. A sample belongs to the
 * second of its intended send time (not of its arrival), so a stall shows at the moment the load
 * met it.
 */
public final class LatencyTimeline {
  /** One second of the run: {@code second} counts from the timeline's origin. */
  public record Point(long second, Percentiles latency) {}

  private final long originNanos;
  private final Map<Long, LatencyStats> seconds = new ConcurrentHashMap<>();

  public LatencyTimeline(long originNanos) {
    this.originNanos = originNanos;
  }

  public void record(long intendedNanos, long latencyNanos) {
    long second = TimeUnit.NANOSECONDS.toSeconds(Math.max(0, intendedNanos - originNanos));
    seconds.computeIfAbsent(second, s -> new LatencyStats()).recordNanos(latencyNanos);
  }

  public List<Point> points() {
    List<Point> out = new ArrayList<>();
    new TreeMap<>(seconds).forEach((second, stats) -> out.add(new Point(second, stats.percentiles())));
    return out;
  }
}
