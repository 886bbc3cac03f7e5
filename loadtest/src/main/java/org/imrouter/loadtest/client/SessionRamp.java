package org.imrouter.loadtest.client;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.metrics.LatencyStats;

/**
 * Opens many sessions with at most {@code concurrency} handshakes in flight (the next one starts
 * when one is welcomed or given up), and measures handshake-to-welcome latency and the connect
 * rate.
 *
 * <p>Every reconnect of the load generator goes through here, by {@link ReconnectPolicy}: a
 * session whose open ends in a way reconnecting can cure (a refused upgrade with 503, a 1001, a
 * broken connection) is tried again after the policy's delay (the server's suggestion plus
 * jitter, else exponential with full jitter) until the welcome timeout, counted from its first
 * attempt, runs out; a spec that reconnects a session that ended first waits what that end
 * suggested. Each retry goes to the next of the given URLs. A session waiting to retry keeps its
 * handshake slot, as a client waiting to reconnect is still a client connecting.
 */
public final class SessionRamp {
  /**
   * The sessions welcomed (in spec order; null where one failed) and how the ramp went:
   * {@code handshake} runs from the connect of the attempt that succeeded to its welcome, {@code
   * ready} from the session's first attempt (before any suggested wait) to the end of the
   * after-welcome step (e.g. a resync), {@code elapsed} until the last session was ready; {@code
   * retries} counts attempts made again after a refusal or a failed attempt.
   */
  public record Outcome(
      List<ClientSession> sessions, List<String> failures, LatencyStats handshake, LatencyStats ready, Duration elapsed, long retries) {
    public long welcomed() {
      return sessions.stream().filter(s -> s != null).count();
    }

    public double sessionsPerSecond() {
      double seconds = elapsed.toNanos() / 1e9;
      return seconds == 0 ? 0 : welcomed() / seconds;
    }
  }

  private final WsConnector connector;
  private final List<String> urls;
  private final Checks checks;
  private final Function<String, String> tokens;
  private final ReconnectPolicy policy;

  /**
   * @param url the WebSocket URL, or several separated by commas (spec i starts at the i-th, and
   *     each retry moves to the next)
   * @param tokens mints the token of a user
   */
  public SessionRamp(WsConnector connector, String url, Checks checks, Function<String, String> tokens) {
    this(connector, url, checks, tokens, ReconnectPolicy.DEFAULT);
  }

  public SessionRamp(WsConnector connector, String url, Checks checks, Function<String, String> tokens, ReconnectPolicy policy) {
    this.connector = connector;
    this.urls = endpoints(url);
    this.checks = checks;
    this.tokens = tokens;
    this.policy = policy;
  }

  /** The URLs of a comma-separated list. */
  static List<String> endpoints(String urls) {
    List<String> list = Arrays.stream(urls.split(",")).map(String::trim).filter(u -> !u.isEmpty()).toList();
    if (list.isEmpty()) {
      throw new IllegalArgumentException("no WebSocket URL in '" + urls + "'");
    }
    return list;
  }

  /** The URL of attempt {@code attempt} (0 = a first connect) of spec {@code index}. */
  static String endpoint(List<String> urls, int index, int attempt) {
    return urls.get(Math.floorMod(index + attempt, urls.size()));
  }

  public Outcome open(List<SessionSpec> specs, int concurrency, Duration welcomeTimeout, SessionListener listener) {
    return open(specs, concurrency, welcomeTimeout, listener, s -> CompletableFuture.completedFuture(null));
  }

  /**
   * Opens the sessions; each handshake slot is held until the session is welcomed and {@code
   * afterWelcome} (within the same timeout) has completed, or it is given up.
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
    LongAdder retries = new LongAdder();
    Slot slot = new Slot(specs, sessions, failures, handshake, ready, retries, welcomeTimeout, listener, afterWelcome);
    AtomicInteger next = new AtomicInteger();
    long start = System.nanoTime();
    List<CompletableFuture<Void>> workers = new ArrayList<>();
    for (int w = 0; w < Math.min(concurrency, specs.size()); w++) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      workers.add(done);
      openNext(slot, next, done);
    }
    CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).join();
    return new Outcome(sessions, List.copyOf(failures), handshake, ready, Duration.ofNanos(System.nanoTime() - start), retries.sum());
  }

  /** What every handshake slot shares. */
  private record Slot(
      List<SessionSpec> specs,
      List<ClientSession> sessions,
      List<String> failures,
      LatencyStats handshake,
      LatencyStats ready,
      LongAdder retries,
      Duration welcomeTimeout,
      SessionListener listener,
      Function<ClientSession, CompletionStage<?>> afterWelcome) {}

  /** One spec's way to its welcome: which spec, when it began, and when it is given up. */
  private record Attempt(int index, SessionSpec spec, long beganNanos, long deadlineNanos, AtomicInteger next, CompletableFuture<Void> done) {}

  private void openNext(Slot slot, AtomicInteger next, CompletableFuture<Void> done) {
    int i = next.getAndIncrement();
    if (i >= slot.specs().size()) {
      done.complete(null);
      return;
    }
    SessionSpec spec = slot.specs().get(i);
    long began = System.nanoTime();
    Attempt a = new Attempt(i, spec, began, began + slot.welcomeTimeout().toNanos(), next, done);
    // a reconnect waits what the end of the session before it suggested, and tries the next URL
    Optional<Duration> wait = spec.endedBefore().flatMap(end -> policy.delay(end, 1, ThreadLocalRandom.current()));
    int firstAttempt = spec.endedBefore().isPresent() ? 1 : 0;
    after(wait.orElse(Duration.ZERO), () -> attempt(slot, a, firstAttempt));
  }

  private void attempt(Slot slot, Attempt a, int attempt) {
    long began = System.nanoTime();
    long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(a.deadlineNanos() - began));
    String url = endpoint(urls, a.index(), attempt);
    ClientSession session =
        connector.open(url, a.spec().id(), a.spec().user(), tokens.apply(a.spec().user()), checks, slot.listener());
    session
        .welcome()
        .thenCompose(
            welcome -> {
              slot.handshake().recordNanos(System.nanoTime() - began);
              return slot.afterWelcome().apply(session);
            })
        .toCompletableFuture()
        .orTimeout(left, TimeUnit.MILLISECONDS)
        .whenComplete(
            (ignored, failure) -> {
              if (failure == null) {
                slot.ready().recordNanos(System.nanoTime() - a.beganNanos());
                synchronized (slot.sessions()) {
                  slot.sessions().set(a.index(), session);
                }
                openNext(slot, a.next(), a.done());
                return;
              }
              session.close();
              // a timeout leaves the session open (closed not done): the deadline is over anyway
              Optional<Duration> wait =
                  session.closed().isDone()
                      ? policy.delay(session.closed().join(), attempt + 1, ThreadLocalRandom.current())
                      : Optional.empty();
              if (wait.isPresent() && System.nanoTime() + wait.get().toNanos() < a.deadlineNanos()) {
                slot.retries().increment();
                after(wait.get(), () -> attempt(slot, a, attempt + 1));
              } else {
                slot.failures().add(a.spec().user() + ": " + failure);
                openNext(slot, a.next(), a.done());
              }
            });
  }

  private static void after(Duration wait, Runnable task) {
    if (wait.isZero()) {
      task.run();
    } else {
      CompletableFuture.delayedExecutor(wait.toNanos(), TimeUnit.NANOSECONDS).execute(task);
    }
  }
}
