package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
import org.imrouter.loadtest.metrics.Percentiles;
import org.imrouter.loadtest.metrics.ServerMemory;
import org.imrouter.loadtest.report.RunReport;

/**
 * Idle connections: ramps to {@code --sessions} authenticated sessions, holds them silent (the
 * client answers the server's pings) for {@code --hold}, counts the survivors every sample interval and
 * records the close codes of any that ended; with {@code --server-pid}, the server's heap (after a
 * full GC) and RSS before and after the ramp give the memory per session.
 */
public final class ConnectionsScenario implements Scenario {
  static final int DEFAULT_SESSIONS = 18_000;
  static final int DEFAULT_CONNECT_CONCURRENCY = 200;
  static final Duration DEFAULT_HOLD = Duration.ofMinutes(10);
  static final Duration DEFAULT_SAMPLE_EVERY = Duration.ofSeconds(10);
  /** DESIGN §9: at least 99.99 % of the sessions are kept through the hold. */
  static final double MIN_SURVIVAL = 0.9999;

  private static final Duration WELCOME_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

  /** The figures of one run. */
  public record Result(
      int asked,
      long welcomed,
      int connectFailures,
      double connectPerSecond,
      Percentiles handshake,
      Duration hold,
      List<Long> survivorsPerSample,
      long survivors,
      double survival,
      Map<Integer, Long> closeCodes,
      Optional<ServerMemory.Sample> before,
      Optional<ServerMemory.Sample> after,
      Optional<Double> heapBytesPerSession,
      Optional<Double> rssBytesPerSession,
      boolean passed) {}

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    String url = flags.string("url", System.getenv().getOrDefault("ROUTER_WS_URL", DmOptions.DEFAULT_URL));
    int sessions = flags.integer("sessions", DEFAULT_SESSIONS);
    int concurrency = flags.integer("connect-concurrency", DEFAULT_CONNECT_CONCURRENCY);
    Duration hold = flags.duration("hold", DEFAULT_HOLD);
    Duration sampleEvery = flags.duration("sample-every", DEFAULT_SAMPLE_EVERY);
    Duration welcomeTimeout = flags.duration("welcome-timeout", WELCOME_TIMEOUT);
    Optional<Long> serverPid = flags.optionalLong("server-pid");
    Optional<String> localAddress = flags.optional("local-address");
    flags.rejectUnknown();

    Optional<ServerMemory.Sample> before = serverPid.map(ServerMemory::sample);
    before.ifPresent(b -> ctx.out().println("server before: " + memory(b)));
    List<SessionSpec> specs = new ArrayList<>();
    for (int i = 0; i < sessions; i++) {
      specs.add(new SessionSpec("c" + i, "lt-" + ctx.runId() + "-u" + i));
    }
    try (WsConnector connector = new WsConnector("loadgen-connections", localAddress)) {
      SessionRamp.Outcome ramp =
          new SessionRamp(connector, url, new Checks(), DevTokens::mint)
              .open(specs, concurrency, welcomeTimeout, SessionListener.NONE);
      Percentiles handshake = ramp.handshake().percentiles();
      ctx.out().printf(
          Locale.ROOT,
          "connected %d of %d sessions in %.1f s: %.0f sessions/s with welcome, handshake p50 %.1f p99 %.1f max %.1f ms, %d failed%n",
          ramp.welcomed(), sessions, ramp.elapsed().toNanos() / 1e9, ramp.sessionsPerSecond(),
          handshake.p50(), handshake.p99(), handshake.max(), ramp.failures().size());
      ramp.failures().stream().limit(5).forEach(f -> ctx.out().println("  ! " + f));
      Optional<ServerMemory.Sample> after = serverPid.map(ServerMemory::sample);
      after.ifPresent(a -> ctx.out().println("server after ramp: " + memory(a)));
      List<ClientSession> open = ramp.sessions().stream().filter(s -> s != null).toList();

      List<Long> survivorsPerSample = new ArrayList<>();
      long holdEnd = System.nanoTime() + hold.toNanos();
      long started = System.nanoTime();
      while (System.nanoTime() < holdEnd) {
        Thread.sleep(Math.min(sampleEvery.toMillis(), Math.max(1, (holdEnd - System.nanoTime()) / 1_000_000)));
        long alive = open.stream().filter(s -> !s.closed().isDone()).count();
        survivorsPerSample.add(alive);
        ctx.out().printf(Locale.ROOT, "  %4.0f s: %d of %d open%n", (System.nanoTime() - started) / 1e9, alive, open.size());
        ctx.out().flush();
      }
      long survivors = open.stream().filter(s -> !s.closed().isDone()).count();
      Map<Integer, Long> closeCodes = new TreeMap<>();
      open.stream().filter(s -> s.closed().isDone()).forEach(s -> closeCodes.merge(s.closed().join().code(), 1L, Long::sum));
      double survival = sessions == 0 ? 0 : (double) survivors / sessions;
      Optional<Double> heapPer = perSession(before.flatMap(ServerMemory.Sample::heapUsedBytes), after.flatMap(ServerMemory.Sample::heapUsedBytes), ramp.welcomed());
      Optional<Double> rssPer = perSession(before.flatMap(ServerMemory.Sample::rssBytes), after.flatMap(ServerMemory.Sample::rssBytes), ramp.welcomed());
      boolean passed = ramp.failures().isEmpty() && survival >= MIN_SURVIVAL;
      ctx.out().printf(
          Locale.ROOT,
          "survivors after %s: %d of %d (%.4f %%), close codes %s; heap/session %s, RSS/session %s%n",
          hold, survivors, sessions, survival * 100, closeCodes,
          heapPer.map(b -> String.format(Locale.ROOT, "%.1f KB", b / 1024)).orElse("-"),
          rssPer.map(b -> String.format(Locale.ROOT, "%.1f KB", b / 1024)).orElse("-"));
      Result result =
          new Result(sessions, ramp.welcomed(), ramp.failures().size(), ramp.sessionsPerSecond(), handshake, hold,
              survivorsPerSample, survivors, survival, closeCodes, before, after, heapPer, rssPer, passed);
      open.forEach(ClientSession::close);
      awaitClosed(open);
      return new RunReport("connections", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), List.of(),
          Map.of("connections", result), Map.of(), List.of(), passed);
    }
  }

  static void awaitClosed(List<ClientSession> sessions) {
    long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
    for (ClientSession s : sessions) {
      try {
        s.closed().get(Math.max(1, (deadline - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        return; // the connector's shutdown ends what is left
      }
    }
  }

  private static Optional<Double> perSession(Optional<Long> before, Optional<Long> after, long sessions) {
    return before.isPresent() && after.isPresent() && sessions > 0
        ? Optional.of((double) (after.get() - before.get()) / sessions)
        : Optional.empty();
  }

  private static String memory(ServerMemory.Sample s) {
    return "heap used " + s.heapUsedBytes().map(b -> b / (1024 * 1024) + " MiB").orElse("?")
        + ", RSS " + s.rssBytes().map(b -> b / (1024 * 1024) + " MiB").orElse("?");
  }
}
