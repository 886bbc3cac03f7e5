package org.imrouter.loadtest.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LatencyStatsTest {
  @Test
  void percentilesOfAKnownDistributionInMilliseconds() {
    LatencyStats stats = new LatencyStats();
    for (int ms = 1; ms <= 100; ms++) {
      stats.recordNanos(TimeUnit.MILLISECONDS.toNanos(ms));
    }
    Percentiles p = stats.percentiles();
    assertEquals(100, p.count());
    assertEquals(50, p.p50(), 0.1);
    assertEquals(90, p.p90(), 0.1);
    assertEquals(99, p.p99(), 0.1);
    assertEquals(100, p.max(), 0.1);
  }

  @Test
  void emptyIsZeroAndNegativeAndHugeValuesAreClamped() {
    LatencyStats stats = new LatencyStats();
    assertEquals(Percentiles.EMPTY, stats.percentiles());
    stats.recordNanos(-5);
    stats.recordNanos(TimeUnit.HOURS.toNanos(2));
    assertEquals(2, stats.count());
    assertEquals(LatencyStats.HIGHEST_TRACKABLE_MICROS / 1000.0, stats.percentiles().max(), 1000);
  }

  @Test
  void timelineBucketsByIntendedSecond() {
    LatencyTimeline t = new LatencyTimeline(0);
    long ms = TimeUnit.MILLISECONDS.toNanos(1);
    t.record(100 * ms, 5 * ms);
    t.record(900 * ms, 7 * ms);
    t.record(2_500 * ms, 40 * ms);
    List<LatencyTimeline.Point> points = t.points();
    assertEquals(2, points.size());
    assertEquals(0, points.get(0).second());
    assertEquals(2, points.get(0).latency().count());
    assertEquals(7, points.get(0).latency().max(), 0.01);
    assertEquals(2, points.get(1).second());
    assertEquals(40, points.get(1).latency().p50(), 0.05);
  }

  @Test
  void procStatCpuIsUtimePlusStimeInMillis() {
    // comm with spaces and a parenthesis, utime 250 ticks, stime 50 ticks
    String stat = "1234 (java (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 30 0 123 456 789";
    assertEquals(3000, ProcCpu.parseCpuMillis(stat));
  }
}
