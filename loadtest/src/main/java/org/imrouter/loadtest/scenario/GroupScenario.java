package org.imrouter.loadtest.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.baseline.RelayServer;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.ReportTable;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.report.StepResult;

/**
 * Group fan-out ladder (see {@link GroupLadder}): posts/s and deliveries/s at p99 ≤ the bar, then
 * (unless {@code --baselines false}) the same ladder against the in-process relay, the transport
 * limit of the same fan-out measured in the same sitting.
 */
public final class GroupScenario implements Scenario {
  /** The headline: the highest passing posts/s and the deliveries/s it made. */
  public record Result(int members, Optional<Integer> highestPostsPerSecond, Optional<Double> deliveriesPerSecond) {}

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    GroupOptions options = GroupOptions.from(flags);
    boolean baseline = flags.bool("baselines", true);
    flags.rejectUnknown();
    ctx.out().print(ReportTable.header());
    List<LadderResult> ladders = new ArrayList<>();
    LadderResult ladder = ladder("group-" + options.members(), ctx.runId(), options, ctx);
    ladders.add(ladder);
    Map<String, Double> ratios = new LinkedHashMap<>();
    if (baseline) {
      // the transport limit of the same fan-out: the in-process relay, in the same sitting
      try (RelayServer relay = RelayServer.start()) {
        LadderResult ws = ladder("baseline-ws-group-" + options.members(), ctx.runId() + "-ws", options.against(relay.url()), ctx);
        ladders.add(ws);
        if (ladder.highestPassing().isPresent() && ws.highestPassing().isPresent()) {
          ratios.put("router/baseline-ws (highest passing posts/s)", (double) ladder.highestPassing().get() / ws.highestPassing().get());
        }
      }
    }
    ladders.forEach(l -> ctx.out().print(ReportTable.summary(l)));
    ratios.forEach((k, v) -> ctx.out().printf("%s = %.2f%n", k, v));
    Optional<Double> deliveries =
        ladder.highestPassing().flatMap(h -> ladder.steps().stream().filter(s -> s.offeredPerSecond() == h).findFirst())
            .map(StepResult::deliveriesPerSecond);
    ctx.out().printf("group of %d: highest passing %s posts/s = %s deliveries/s%n", options.members(),
        ladder.highestPassing().map(String::valueOf).orElse("none"), deliveries.map(d -> String.format("%.0f", d)).orElse("-"));
    boolean passed = ladders.stream().allMatch(l -> l.checks().violations() == 0 && l.problems().isEmpty());
    return new RunReport("group", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), ladders,
        Map.of("group", new Result(options.members(), ladder.highestPassing(), deliveries)), ratios, List.of(), passed);
  }

  private static LadderResult ladder(String target, String runId, GroupOptions options, RunContext ctx) throws Exception {
    return new GroupLadder(target, runId, options, step -> {
      ctx.out().print(ReportTable.row(step));
      ctx.out().flush();
    }).run();
  }
}
