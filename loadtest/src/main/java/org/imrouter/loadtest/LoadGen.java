package org.imrouter.loadtest;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.report.ReportFiles;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.scenario.ConnectStormScenario;
import org.imrouter.loadtest.scenario.ConnectionsScenario;
import org.imrouter.loadtest.scenario.DmScenario;
import org.imrouter.loadtest.scenario.GroupScenario;
import org.imrouter.loadtest.scenario.HotScenario;
import org.imrouter.loadtest.scenario.LatencyProxyScenario;
import org.imrouter.loadtest.scenario.RelayScenario;
import org.imrouter.loadtest.scenario.RunContext;
import org.imrouter.loadtest.scenario.Scenario;

/**
 * The load generator: {@code LoadGen SCENARIO [--flag value …]} (see ops/loadtest.sh and the
 * README). Prints a table while it runs, writes report.json and report.html to {@code --out}, and
 * exits non-zero when a correctness check found a violation.
 */
public final class LoadGen {
  static {
    // Pekko's Java futures run their callbacks as *Async on the JDK's default executor, which on a
    // 2-core machine starts a thread per callback unless the common pool has parallelism >= 2
    // (see the router's AsyncCompletions). Set before anything loads the pool.
    if (System.getProperty("java.util.concurrent.ForkJoinPool.common.parallelism") == null) {
      System.setProperty("java.util.concurrent.ForkJoinPool.common.parallelism", "2");
    }
  }

  static final int EXIT_VIOLATIONS = 1;
  static final int EXIT_USAGE = 2;
  private static final String DEFAULT_OUT_ROOT = "loadtest/target/reports";
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

  private static final Map<String, Supplier<Scenario>> SCENARIOS =
      Map.of(
          "dm", () -> new DmScenario(DmScenario.Mode.DM),
          "baseline-cassandra", () -> new DmScenario(DmScenario.Mode.BASELINE_CASSANDRA),
          "baseline-ws", () -> new DmScenario(DmScenario.Mode.BASELINE_WS),
          "connections", ConnectionsScenario::new,
          "connect-storm", ConnectStormScenario::new,
          "group", GroupScenario::new,
          "hot", HotScenario::new,
          "latency-proxy", LatencyProxyScenario::new,
          "relay", RelayScenario::new);

  private LoadGen() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs a scenario and returns the exit code (tests call this instead of main). */
  public static int run(String[] args) {
    if (args.length < 1 || !SCENARIOS.containsKey(args[0])) {
      System.err.println("usage: loadtest SCENARIO [--flag value ...]; scenarios: " + String.join(", ", SCENARIOS.keySet().stream().sorted().toList()));
      return EXIT_USAGE;
    }
    String scenario = args[0];
    Instant now = Instant.now();
    Flags flags;
    try {
      flags = Flags.parse(List.of(Arrays.copyOfRange(args, 1, args.length)));
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      return EXIT_USAGE;
    }
    String runId = flags.string("run-id", Long.toString(now.toEpochMilli(), Character.MAX_RADIX));
    Path out = Path.of(flags.string("out", DEFAULT_OUT_ROOT + "/" + scenario + "-" + STAMP.format(now)));
    RunReport report;
    try {
      report = SCENARIOS.get(scenario).get().run(flags, new RunContext(runId, now.toString(), System.out));
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      return EXIT_USAGE;
    } catch (Exception e) {
      e.printStackTrace();
      return EXIT_VIOLATIONS;
    }
    try {
      Path html = ReportFiles.write(report, out);
      System.out.println("report: " + html.toAbsolutePath() + " (and report.json)");
    } catch (IOException e) {
      System.err.println("could not write the report to " + out + ": " + e);
    }
    System.out.println(report.passed() ? "checks: PASS (no violations)" : "checks: FAIL (violations or problems above)");
    return report.passed() ? 0 : EXIT_VIOLATIONS;
  }
}
