package org.imrouter.loadtest.scenario;

import java.io.PrintStream;

/** What every scenario gets: the run's id (it names the users, so reruns use fresh ones) and where to print. */
public record RunContext(String runId, String startedAt, PrintStream out) {}
