package org.imrouter.loadtest.report;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.metrics.Percentiles;

/**
 * One ladder step against one target: what was offered, what came back, and whether it passed.
 * {@code delivered} counts deliveries (a group post to 100 members makes 100); {@code lost} counts
 * sends that were not both accepted and delivered to every receiver once the drain grace was over
 * (including those answered with an error).
 */
public record StepResult(
    String target,
    int offeredPerSecond,
    double seconds,
    long sent,
    long accepted,
    long delivered,
    double achievedPerSecond,
    double deliveriesPerSecond,
    Percentiles accept,
    Percentiles delivery,
    Map<String, Long> errors,
    long gaps,
    long duplicates,
    long outOfOrder,
    long lost,
    Optional<Double> serverCpuMsPerMsg,
    Optional<Double> cassandraCpuMsPerMsg,
    Optional<Double> loadgenCpuMsPerMsg,
    boolean passed,
    List<String> failures) {}
