package org.imrouter.loadtest.scenario;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.baseline.CassandraBaseline;
import org.imrouter.loadtest.baseline.RelayServer;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.ReportTable;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.report.StorageBaseline;

/**
 * Durable 1:1 messages: the dm ladder against the router, and in the same run (unless
 * {@code --baselines false}) the storage baseline and the same ladder against the in-process
 * relay, so that the router's figure stands beside both limits. Also runs either baseline alone.
 */
public final class DmScenario implements Scenario {
  /** Which parts run. */
  public enum Mode {
    DM,
    BASELINE_CASSANDRA,
    BASELINE_WS
  }

  private final Mode mode;

  public DmScenario(Mode mode) {
    this.mode = mode;
  }

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    boolean baselines = mode != Mode.DM || flags.bool("baselines", true);
    DmOptions options = mode == Mode.BASELINE_CASSANDRA ? null : DmOptions.from(flags, ctx.runId());
    CassandraBaseline.Options storageOptions = mode == Mode.BASELINE_WS || !baselines ? null : StorageOptions.from(flags);
    flags.rejectUnknown();

    List<String> notes = new ArrayList<>();
    Optional<StorageBaseline> storage = Optional.empty();
    if (storageOptions != null) {
      try {
        storage = Optional.of(CassandraBaseline.run(storageOptions));
        ctx.out().print(ReportTable.storage(storage.get()));
      } catch (RuntimeException e) {
        notes.add("storage baseline failed: " + e);
        ctx.out().println("baseline-cassandra failed: " + e);
      }
      ctx.out().flush();
    }
    List<LadderResult> ladders = new ArrayList<>();
    if (options != null) {
      ctx.out().print(ReportTable.header());
      if (mode == Mode.DM) {
        ladders.add(ladder("router", "lt-" + ctx.runId() + "-u", options, ctx));
      }
      if (mode == Mode.BASELINE_WS || baselines) {
        try (RelayServer relay = RelayServer.start()) {
          ladders.add(ladder("baseline-ws", "lt-" + ctx.runId() + "-ws-u", options.against(relay.url()), ctx));
        }
      }
      ladders.forEach(l -> ctx.out().print(ReportTable.summary(l)));
    }
    Map<String, Double> ratios = ratios(ladders, storage);
    ratios.forEach((k, v) -> ctx.out().printf("%s = %.2f%n", k, v));
    storage.ifPresent(s -> notes.add("each direct message is two journal writes (sender's copy + recipient's copy): storage limit in msgs/s = inserts/s ÷ 2"));
    boolean passed =
        ladders.stream().allMatch(l -> l.checks().violations() == 0 && l.problems().isEmpty())
            && notes.stream().noneMatch(n -> n.contains("failed"));
    return new RunReport(
        mode.name().toLowerCase().replace('_', '-'), ctx.runId(), ctx.startedAt(), flags.asMap(), storage, ladders, Map.of(), ratios, notes, passed);
  }

  private static LadderResult ladder(String target, String userPrefix, DmOptions options, RunContext ctx) throws InterruptedException {
    LadderResult result =
        new DmLadder(target, userPrefix, options, step -> {
          ctx.out().print(ReportTable.row(step));
          ctx.out().flush();
        }).run();
    return result;
  }

  private static Map<String, Double> ratios(List<LadderResult> ladders, Optional<StorageBaseline> storage) {
    Map<String, Double> ratios = new LinkedHashMap<>();
    Optional<Integer> router = highest(ladders, "router");
    Optional<Integer> ws = highest(ladders, "baseline-ws");
    if (router.isPresent() && ws.isPresent()) {
      ratios.put("router/baseline-ws (highest passing step)", (double) router.get() / ws.get());
    }
    if (router.isPresent() && storage.isPresent() && storage.get().directMessagesPerSecond() > 0) {
      ratios.put("router/baseline-cassandra (msgs/s ÷ storage limit in msgs/s)", router.get() / storage.get().directMessagesPerSecond());
    }
    return ratios;
  }

  private static Optional<Integer> highest(List<LadderResult> ladders, String target) {
    return ladders.stream().filter(l -> l.target().equals(target)).findFirst().flatMap(LadderResult::highestPassing);
  }
}
