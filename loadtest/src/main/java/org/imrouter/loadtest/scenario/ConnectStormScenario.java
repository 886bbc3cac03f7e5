package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.CloseInfo;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
import org.imrouter.loadtest.metrics.Percentiles;
import org.imrouter.loadtest.report.RunReport;

/**
 * A reconnect storm, as after a load balancer or network blip: {@code --clients} sessions are
 * connected and welcomed, then all drop at once and reconnect at once (bounded only by {@code
 * --connect-concurrency}); each reconnected session resyncs its inbox from the last seq it had
 * seen and counts as done when the {@code history} answer arrives. Reports the reconnect rate and
 * the time until the last session was resynced.
 *
 * <p>The storm repeats {@code --rounds} times (3) and the last round is the result: a node in
 * service has its connect path compiled, and the first rounds on a fresh node mostly measure the
 * JIT compiler (a profile of the first storm on a fresh node showed 17 s of compilation in 26 s).
 * Every round is printed.
 *
 * <p>{@code --drop client} (the default) drops the sessions from the client side, and they come
 * back at once: the worst case, clients that were given no delay. {@code --drop server} instead
 * waits (up to {@code --drop-wait}) until the server has closed every session, as when the node
 * they are on is drained (ops/cluster/drain-node.sh): each then reconnects as a client should, by
 * the one reconnect mechanism of the load generator ({@link SessionRamp}, {@code
 * ReconnectPolicy}): after the delay its close suggested plus jitter, to the next of the
 * comma-separated {@code --url}s. Either way a refused upgrade (503) is retried after its
 * Retry-After.
 *
 * <p>{@code --first-url} (default: {@code --url}) is where the sessions first connect, so that
 * all of them can be on the node to drain while their reconnects go to the others: {@code
 * --first-url ws://127.0.0.1:8080/v1/ws --url ws://127.0.0.2:8080/v1/ws,ws://127.0.0.3:8080/v1/ws
 * --drop server}, then {@code ops/cluster/drain-node.sh 1}.
 */
public final class ConnectStormScenario implements Scenario {
  static final int DEFAULT_CLIENTS = 10_000;
  static final int DEFAULT_CONNECT_CONCURRENCY = 200;
  static final int DEFAULT_ROUNDS = 3;
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);
  /** How long --drop server waits for the drain an operator starts. */
  private static final Duration DEFAULT_DROP_WAIT = Duration.ofMinutes(5);
  private static final String DROP_CLIENT = "client";
  private static final String DROP_SERVER = "server";

  /** The figures of one storm. */
  public record Result(
      int clients,
      long initiallyWelcomed,
      double initialConnectPerSecond,
      long reconnected,
      int reconnectFailures,
      double reconnectPerSecond,
      Duration untilLastResynced,
      Percentiles reconnectHandshake,
      Percentiles reconnectAndResync,
      boolean passed) {}

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    String url = flags.string("url", System.getenv().getOrDefault("ROUTER_WS_URL", DmOptions.DEFAULT_URL));
    // where the sessions first connect; the reconnects of the storm go to --url
    String firstUrl = flags.string("first-url", url);
    int clients = flags.integer("clients", DEFAULT_CLIENTS);
    int concurrency = flags.integer("connect-concurrency", DEFAULT_CONNECT_CONCURRENCY);
    Duration timeout = flags.duration("welcome-timeout", DEFAULT_TIMEOUT);
    Optional<String> localAddress = flags.optional("local-address");
    int rounds = flags.integer("rounds", DEFAULT_ROUNDS);
    String drop = flags.string("drop", DROP_CLIENT);
    Duration dropWait = flags.duration("drop-wait", DEFAULT_DROP_WAIT);
    flags.rejectUnknown();
    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be at least 1");
    }
    if (!drop.equals(DROP_CLIENT) && !drop.equals(DROP_SERVER)) {
      throw new IllegalArgumentException("--drop is client or server");
    }

    Checks checks = new Checks();
    try (WsConnector connector = new WsConnector("loadgen-storm", localAddress)) {
      SessionRamp ramp = new SessionRamp(connector, url, checks, DevTokens::mint);
      List<SessionSpec> first = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        first.add(new SessionSpec("a-" + i, user(ctx, i)));
      }
      SessionRamp.Outcome initial =
          new SessionRamp(connector, firstUrl, checks, DevTokens::mint).open(first, concurrency, timeout, SessionListener.NONE);
      ctx.out().printf(Locale.ROOT, "connected %d of %d at %.0f sessions/s (%d failed)%n",
          initial.welcomed(), clients, initial.sessionsPerSecond(), initial.failures().size());
      List<ClientSession> sessions = initial.sessions();
      long[] lastSeen = new long[clients];
      for (int i = 0; i < clients; i++) {
        lastSeen[i] = sessions.get(i) == null ? 0 : sessions.get(i).lastSeq(ClientSession.INBOX);
      }
      SessionRamp.Outcome storm = null;
      int earlierFailures = 0;
      for (int round = 1; round <= rounds; round++) {
        List<ClientSession> previous = storm == null ? sessions : storm.sessions();
        List<ClientSession> open = previous.stream().filter(s -> s != null).toList();
        if (drop.equals(DROP_SERVER)) {
          ctx.out().printf(Locale.ROOT, "round %d: waiting up to %s for the server to close all %d sessions (drain the node)%n", round, dropWait, open.size());
          ctx.out().flush();
          awaitClosedBy(open, dropWait);
        } else {
          open.forEach(ClientSession::close); // all drop at once
          ConnectionsScenario.awaitClosed(open);
        }
        List<SessionSpec> again = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
          ClientSession before = previous.get(i);
          Optional<CloseInfo> ended = before == null ? Optional.empty() : Optional.ofNullable(before.closed().getNow(null));
          again.add(new SessionSpec("r" + round + "-" + i, user(ctx, i), ended));
        }
        earlierFailures += storm == null ? 0 : storm.failures().size();
        storm =
            ramp.open(again, concurrency, timeout, SessionListener.NONE,
                s -> s.sync(ClientSession.INBOX, lastSeen[Integer.parseInt(s.id().substring(s.id().indexOf('-') + 1))], StoredCheck.SYNC_PAGE));
        ctx.out().printf(Locale.ROOT, "round %d of %d: all dropped (by the %s) and reconnected: %d of %d in %.2f s (%.0f sessions/s), %d retried, %d failed%n",
            round, rounds, drop, storm.welcomed(), clients, storm.elapsed().toNanos() / 1e9, storm.sessionsPerSecond(), storm.retries(),
            storm.failures().size());
      }
      Percentiles handshake = storm.handshake().percentiles();
      Percentiles ready = storm.ready().percentiles();
      double perSecond = storm.elapsed().isZero() ? 0 : storm.welcomed() / (storm.elapsed().toNanos() / 1e9);
      ctx.out().printf(Locale.ROOT,
          "last round: reconnected and resynced %d of %d in %.2f s (%.0f sessions/s); handshake p50 %.1f p99 %.1f ms; welcome+resync p50 %.1f p99 %.1f max %.1f ms; %d failed%n",
          storm.welcomed(), clients, storm.elapsed().toNanos() / 1e9, perSecond, handshake.p50(), handshake.p99(),
          ready.p50(), ready.p99(), ready.max(), storm.failures().size());
      storm.failures().stream().limit(5).forEach(f -> ctx.out().println("  ! " + f));
      boolean passed = initial.failures().isEmpty() && earlierFailures == 0 && storm.failures().isEmpty() && checks.summary().violations() == 0;
      Result result = new Result(clients, initial.welcomed(), initial.sessionsPerSecond(), storm.welcomed(),
          storm.failures().size(), perSecond, storm.elapsed(), handshake, ready, passed);
      List<ClientSession> reopened = storm.sessions().stream().filter(s -> s != null).toList();
      reopened.forEach(ClientSession::close);
      ConnectionsScenario.awaitClosed(reopened);
      return new RunReport("connect-storm", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), List.of(),
          Map.of("connect-storm", result), Map.of(), List.of(), passed);
    }
  }

  /** Waits until every session has ended, or the wait is over (the rest count as not dropped). */
  private static void awaitClosedBy(List<ClientSession> sessions, Duration wait) {
    try {
      CompletableFuture.allOf(sessions.stream().map(ClientSession::closed).toArray(CompletableFuture[]::new))
          .get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("the server did not close every session within " + wait + ": was the node drained?", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted waiting for the drain", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("a session's end could not be read", e);
    }
  }

  private static String user(RunContext ctx, int i) {
    return "lt-" + ctx.runId() + "-u" + i;
  }
}
