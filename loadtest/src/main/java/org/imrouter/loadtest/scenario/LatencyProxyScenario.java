package org.imrouter.loadtest.scenario;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.fault.LatencyProxy;
import org.imrouter.loadtest.report.RunReport;

/**
 * A slow Cassandra for a router to run against: serves a {@link LatencyProxy} on loopback port
 * {@code --port} (9142) in front of {@code --target} (127.0.0.1:9042) for {@code --serve}
 * (default: until killed), holding every byte Cassandra sends for {@code --latency} (500ms).
 * With {@code --latency-file}, the latency is read from that file (a duration such as
 * {@code 500ms}, {@code 0s}) every {@code --poll} (500ms), so one run can make the store slow
 * and fast again. Point the node at it with ROUTER_CASSANDRA_CONTACT_POINTS=127.0.0.1:9142.
 */
public final class LatencyProxyScenario implements Scenario {
  private static final Duration FOREVER = Duration.ofDays(365);

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    String target = flags.string("target", "127.0.0.1:9042");
    int port = flags.integer("port", 9142);
    Duration latency = flags.duration("latency", Duration.ofMillis(500));
    String file = flags.string("latency-file", "");
    Duration poll = flags.duration("poll", Duration.ofMillis(500));
    Duration serve = flags.duration("serve", FOREVER);
    flags.rejectUnknown();
    try (LatencyProxy proxy = LatencyProxy.start(target, port)) {
      proxy.setLatency(latency);
      ctx.out().println("latency proxy serving " + proxy.address() + " in front of " + target + ", latency " + latency.toMillis() + " ms");
      ctx.out().flush();
      long end = System.nanoTime() + serve.toNanos();
      Duration current = latency;
      while (System.nanoTime() < end) {
        Thread.sleep(poll.toMillis());
        if (!file.isEmpty() && Files.exists(Path.of(file))) {
          Duration read = Flags.parseDuration(Files.readString(Path.of(file)).trim());
          if (!read.equals(current)) {
            current = read;
            proxy.setLatency(current);
            ctx.out().println("latency now " + current.toMillis() + " ms");
            ctx.out().flush();
          }
        }
      }
    }
    return new RunReport("latency-proxy", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), List.of(), Map.of(), Map.of(), List.of(), true);
  }
}
