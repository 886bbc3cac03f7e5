package org.imrouter.loadtest.report;

import java.util.List;
import java.util.Optional;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.metrics.LatencyTimeline;
import org.imrouter.loadtest.metrics.Percentiles;

/**
 * A whole ladder against one target (the router, or the transport baseline): the connect phase,
 * every step run, the checkers' totals and the latency timelines for the charts.
 */
public record LadderResult(
    String target,
    String url,
    int sessions,
    int senders,
    double connectPerSecond,
    Percentiles handshake,
    List<StepResult> steps,
    Optional<Integer> highestPassing,
    Checks.Summary checks,
    List<String> problems,
    List<LatencyTimeline.Point> acceptTimeline,
    List<LatencyTimeline.Point> deliveryTimeline) {}
