package org.imrouter.loadtest.scenario;

import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.RunReport;

/** One load scenario: reads its flags, runs, prints as it goes and returns the report. */
public interface Scenario {
  RunReport run(Flags flags, RunContext context) throws Exception;
}
