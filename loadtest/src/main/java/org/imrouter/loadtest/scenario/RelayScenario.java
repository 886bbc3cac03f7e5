package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.baseline.RelayServer;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.RunReport;

/**
 * Serves the transport baseline's relay on its own for {@code --serve} (default: until killed),
 * so the connection scenarios can be tried, or compared, without a router node.
 */
public final class RelayScenario implements Scenario {
  private static final Duration FOREVER = Duration.ofDays(365);

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    Duration serve = flags.duration("serve", FOREVER);
    flags.rejectUnknown();
    try (RelayServer relay = RelayServer.start()) {
      ctx.out().println("relay serving " + relay.url());
      ctx.out().flush();
      Thread.sleep(serve.toMillis());
    }
    return new RunReport("relay", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), List.of(), Map.of(), Map.of(), List.of(), true);
  }
}
