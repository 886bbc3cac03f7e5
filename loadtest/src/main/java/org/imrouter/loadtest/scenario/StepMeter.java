package org.imrouter.loadtest.scenario;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.imrouter.loadtest.metrics.LatencyStats;

/**
 * Counters and histograms of one ladder step, recorded from many connection threads. {@code
 * delivered} counts deliveries (a group post to 100 members is 100), {@code completed} sends that
 * were both accepted and delivered to their whole audience.
 */
final class StepMeter {
  final int offeredPerSecond;
  final LatencyStats accept = new LatencyStats();
  final LatencyStats delivery = new LatencyStats();
  final LongAdder sent = new LongAdder();
  final LongAdder accepted = new LongAdder();
  final LongAdder delivered = new LongAdder();
  final LongAdder completed = new LongAdder();
  private final LongAdder finished = new LongAdder();
  private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();

  StepMeter(int offeredPerSecond) {
    this.offeredPerSecond = offeredPerSecond;
  }

  void error(String code) {
    errors.computeIfAbsent(code, c -> new LongAdder()).increment();
  }

  void finished() {
    finished.increment();
  }

  /** Sends not yet accepted-and-delivered nor refused. */
  long outstanding() {
    return sent.sum() - finished.sum();
  }

  Map<String, Long> errors() {
    Map<String, Long> out = new TreeMap<>();
    errors.forEach((code, n) -> out.put(code, n.sum()));
    return out;
  }
}
