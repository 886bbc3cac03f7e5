package org.imrouter.loadtest.report;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything one load-generator run measured, as written to the JSON and HTML reports.
 * {@code ratios} compares the router with the baselines (e.g. router ÷ transport limit);
 * {@code results} holds the figures of the non-ladder scenarios (connections, connect storm, …)
 * by name.
 */
public record RunReport(
    String scenario,
    String runId,
    String startedAt,
    Map<String, String> flags,
    Optional<StorageBaseline> storage,
    List<LadderResult> ladders,
    Map<String, Record> results,
    Map<String, Double> ratios,
    List<String> notes,
    boolean passed) {}
