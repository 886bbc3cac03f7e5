package org.imrouter.loadtest.metrics;

/** Latency percentiles of one histogram, in milliseconds; all zero when {@code count} is 0. */
public record Percentiles(long count, double p50, double p90, double p99, double max) {
  public static final Percentiles EMPTY = new Percentiles(0, 0, 0, 0, 0);
}
