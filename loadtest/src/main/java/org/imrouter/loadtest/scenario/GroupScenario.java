package org.imrouter.loadtest.scenario;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.ReportTable;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.report.StepResult;

/** Group fan-out ladder (see {@link GroupLadder}): posts/s and deliveries/s at p99 ≤ the bar. */
public final class GroupScenario implements Scenario {
  /** The headline: the highest passing posts/s and the deliveries/s it made. */
  public record Result(int members, Optional<Integer> highestPostsPerSecond, Optional<Double> deliveriesPerSecond) {}

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    GroupOptions options = GroupOptions.from(flags);
    flags.rejectUnknown();
    ctx.out().print(ReportTable.header());
    LadderResult ladder =
        new GroupLadder(ctx.runId(), options, step -> {
          ctx.out().print(ReportTable.row(step));
          ctx.out().flush();
        }).run();
    ctx.out().print(ReportTable.summary(ladder));
    Optional<Double> deliveries =
        ladder.highestPassing().flatMap(h -> ladder.steps().stream().filter(s -> s.offeredPerSecond() == h).findFirst())
            .map(StepResult::deliveriesPerSecond);
    ctx.out().printf("group of %d: highest passing %s posts/s = %s deliveries/s%n", options.members(),
        ladder.highestPassing().map(String::valueOf).orElse("none"), deliveries.map(d -> String.format("%.0f", d)).orElse("-"));
    boolean passed = ladder.checks().violations() == 0 && ladder.problems().isEmpty();
    return new RunReport("group", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), List.of(ladder),
        Map.of("group", new Result(options.members(), ladder.highestPassing(), deliveries)), Map.of(), List.of(), passed);
  }
}
