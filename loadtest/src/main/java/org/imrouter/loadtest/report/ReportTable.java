package org.imrouter.loadtest.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** The plain-text table printed on stdout: one row per ladder step, baselines included. */
public final class ReportTable {
  private static final String ROW =
      "%-12s %7s %8s %9s %8s %8s %8s %8s %-22s %5s %5s %5s %8s %8s %8s  %s%n";

  private ReportTable() {}

  public static String header() {
    return String.format(
            Locale.ROOT,
            ROW,
            "target", "offered", "achieved", "dlv/s", "acc p50", "acc p99", "dlv p50", "dlv p99", "errors", "gaps", "dups", "lost",
            "srv ms/m", "cas ms/m", "lg ms/m", "result")
        + "-".repeat(170)
        + "\n";
  }

  public static String row(StepResult s) {
    return String.format(
        Locale.ROOT,
        ROW,
        s.target(),
        s.offeredPerSecond(),
        String.format(Locale.ROOT, "%.0f", s.achievedPerSecond()),
        String.format(Locale.ROOT, "%.0f", s.deliveriesPerSecond()),
        ms(s.accept().p50()),
        ms(s.accept().p99()),
        ms(s.delivery().p50()),
        ms(s.delivery().p99()),
        errors(s.errors()),
        s.gaps() + s.outOfOrder(),
        s.duplicates(),
        s.lost(),
        cpu(s.serverCpuMsPerMsg()),
        cpu(s.cassandraCpuMsPerMsg()),
        cpu(s.loadgenCpuMsPerMsg()),
        s.passed() ? "PASS" : "FAIL " + String.join("; ", s.failures()));
  }

  public static String storage(StorageBaseline b) {
    return String.format(
        Locale.ROOT,
        "baseline-cassandra: %.0f inserts/s (%s, %d in flight, %d inserts in %.1f s), latency p50 %s p99 %s max %s ms,"
            + " errors %s%n  storage limit for direct messages = inserts/s ÷ 2 (sender's copy + recipient's copy) = %.0f msgs/s%n",
        b.insertsPerSecond(),
        b.consistency(),
        b.inFlight(),
        b.inserts(),
        b.seconds(),
        ms(b.latency().p50()),
        ms(b.latency().p99()),
        ms(b.latency().max()),
        errors(b.errors()),
        b.directMessagesPerSecond());
  }

  public static String summary(LadderResult l) {
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            Locale.ROOT,
            "%s: highest passing step %s msgs/s; %d sessions (%d senders) connected at %.0f/s, handshake p50 %s p99 %s ms;"
                + " checks: lost %d, duplicates %d, gaps %d, out of order %d, stored≠delivered %d of %d",
            l.target(),
            l.highestPassing().map(String::valueOf).orElse("none"),
            l.sessions(),
            l.senders(),
            l.connectPerSecond(),
            ms(l.handshake().p50()),
            ms(l.handshake().p99()),
            l.checks().lostDeliveries(),
            l.checks().duplicates(),
            l.checks().gaps(),
            l.checks().outOfOrder(),
            l.checks().storedMismatches(),
            l.checks().storedCompared()));
    l.problems().forEach(p -> lines.add("  ! " + p));
    return String.join("\n", lines) + "\n";
  }

  static String ms(double v) {
    return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.1f", v);
  }

  static String cpu(Optional<Double> v) {
    return v.map(d -> String.format(Locale.ROOT, "%.3f", d)).orElse("-");
  }

  static String errors(Map<String, Long> errors) {
    return errors.isEmpty()
        ? "0"
        : errors.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
  }
}
