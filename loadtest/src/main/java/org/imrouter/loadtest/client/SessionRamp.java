package org.imrouter.loadtest.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.metrics.LatencyStats;

/**
 * Opens many sessions with at most {@code concurrency} handshakes in flight (the next one starts
 * when one is welcomed or fails), and measures handshake-to-welcome latency and the connect rate.
 */
public final class SessionRamp {
  /**
   * The sessions welcomed (in spec order; null where one failed) and how the ramp went:
   * {@code handshake} runs from connect to welcome, {@code ready} to the end of the after-welcome
   * step (e.g. a resync), {@code elapsed} until the last session was ready.
   */
  public record Outcome(
      List<ClientSession> sessions, List<String> failures, LatencyStats handshake, LatencyStats ready, Duration elapsed) {
    public long welcomed() {
      return sessions.stream().filter(s -> s != null).count();
    }

    public double sessionsPerSecond() {
      double seconds = elapsed.toNanos() / 1e9;
      return seconds == 0 ? 0 : welcomed() / seconds;
    }
  }

  private final WsConnector connector;
  private final String url;
  private final Checks checks;
  private final Function<String, String> tokens;

  /** @param tokens mints the token of a user */
  public SessionRamp(WsConnector connector, String url, Checks checks, Function<String, String> tokens) {
    this.connector = connector;
    this.url = url;
    this.checks = checks;
    this.tokens = tokens;
  }

  public Outcome open(List<SessionSpec> specs, int concurrency, Duration welcomeTimeout, SessionListener listener) {
    return open(specs, concurrency, welcomeTimeout, listener, s -> CompletableFuture.completedFuture(null));
  }

  /**
   * Opens the sessions; each handshake slot is held until the session is welcomed and {@code
   * afterWelcome} (within the same timeout) has completed.
   */
  public Outcome open(
      List<SessionSpec> specs,
      int concurrency,
      Duration welcomeTimeout,
      SessionListener listener,
      Function<ClientSession, CompletionStage<?>> afterWelcome) {
    List<ClientSession> sessions = new ArrayList<>(Collections.nCopies(specs.size(), null));
    List<String> failures = Collections.synchronizedList(new ArrayList<>());
    LatencyStats handshake = new LatencyStats();
    LatencyStats ready = new LatencyStats();
    Slot slot = new Slot(specs, sessions, failures, handshake, ready, welcomeTimeout, listener, afterWelcome);
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int w = 0; w < Math.min(concurrency, specs.size()); w++) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      workers.add(done);
      openNext(slot, next, done);
    }
    CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).join();
    return new Outcome(sessions, List.copyOf(failures), handshake, ready, Duration.ofNanos(System.nanoTime() - start));
  }

  /** What every handshake slot shares. */
  private record Slot(
      List<SessionSpec> specs,
      List<ClientSession> sessions,
      List<String> failures,
      LatencyStats handshake,
      LatencyStats ready,
      Duration welcomeTimeout,
      SessionListener listener,
      Function<ClientSession, CompletionStage<?>> afterWelcome) {}

  private void openNext(Slot slot, AtomicInteger next, CompletableFuture<Void> done) {
    int i = next.getAndIncrement();
    if (i >= slot.specs().size()) {
      done.complete(null);
      return;
    }
    SessionSpec spec = slot.specs().get(i);
    long began = System.nanoTime();
    ClientSession session =
        connector.open(url, spec.id(), spec.user(), tokens.apply(spec.user()), checks, slot.listener());
    session
        .welcome()
        .thenCompose(
            welcome -> {
              slot.handshake().recordNanos(System.nanoTime() - began);
              return slot.afterWelcome().apply(session);
            })
        .toCompletableFuture()
        .orTimeout(slot.welcomeTimeout().toMillis(), TimeUnit.MILLISECONDS)
        .whenComplete(
            (ignored, failure) -> {
              if (failure == null) {
                slot.ready().recordNanos(System.nanoTime() - began);
                synchronized (slot.sessions()) {
                  slot.sessions().set(i, session);
                }
              } else {
                slot.failures().add(spec.user() + ": " + failure);
                session.close();
              }
              openNext(slot, next, done);
            });
  }
}
