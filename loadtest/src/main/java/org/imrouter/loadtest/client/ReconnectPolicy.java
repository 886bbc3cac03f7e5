package org.imrouter.loadtest.client;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.random.RandomGenerator;

/**
 * When a session that ended (or never opened) is opened again, and after how long: the load
 * generator's one reconnect mechanism ({@link SessionRamp} runs it), behaving as a client should
 * towards the router.
 *
 * <p>A server that suggests a delay (a close reason's {@code retry-after-ms=}, a 503's {@code
 * Retry-After}) is waited for, plus up to {@code hintJitter} at random, so clients given the same
 * whole second do not come back in the same instant. Without a hint, where reconnecting can help
 * (the connection broke, the node went away, an overloaded answer) the wait is exponential with
 * full jitter: uniform between 0 and {@code base x 2^(attempt - 1)}, capped at {@code cap}. Ends
 * that reconnecting does not cure (a normal close, a refused token, too many connections, an
 * expired token, a protocol violation) are not retried.
 */
public record ReconnectPolicy(Duration hintJitter, Duration base, Duration cap) {
  /** Jitter of a quarter of the router's shortest suggested delay (500 ms), and a 10 s cap. */
  public static final ReconnectPolicy DEFAULT =
      new ReconnectPolicy(Duration.ofMillis(125), Duration.ofMillis(250), Duration.ofSeconds(10));

  static final int GOING_AWAY = 1001;
  /** RFC 6455 "try again later". */
  static final int TRY_AGAIN_LATER = 1013;
  /** The router's slow-consumer close: reconnect and sync. */
  static final int SLOW_CONSUMER = 4008;

  private static final Set<Integer> RECONNECT_CODES = Set.of(CloseInfo.ABNORMAL, GOING_AWAY, TRY_AGAIN_LATER, SLOW_CONSUMER);
  /** Refusals that mean "not now": overloaded, rate limited, a proxy without a live upstream. */
  private static final Set<Integer> RETRY_STATUSES = Set.of(429, 502, 503, 504);

  /** Doublings past which the exponential delay is the cap anyway (2^30 x any base exceeds any sane cap). */
  private static final int MAX_DOUBLINGS = 30;

  public ReconnectPolicy {
    if (hintJitter.isNegative() || base.isNegative() || base.isZero() || cap.compareTo(base) < 0) {
      throw new IllegalArgumentException("reconnect policy needs jitter >= 0 and 0 < base <= cap");
    }
  }

  /**
   * The wait before reconnect attempt {@code attempt} (1 for the first after {@code end}), or
   * empty when reconnecting would not help.
   */
  public Optional<Duration> delay(CloseInfo end, int attempt, RandomGenerator random) {
    if (!worthReconnecting(end)) {
      return Optional.empty();
    }
    if (end.retryAfter().isPresent()) {
      return Optional.of(end.retryAfter().get().plusNanos(uniform(hintJitter.toNanos(), random)));
    }
    int doublings = Math.min(Math.max(0, attempt - 1), MAX_DOUBLINGS);
    // compared before shifting, so that no base and attempt overflow
    long ceiling = base.toNanos() > cap.toNanos() >> doublings ? cap.toNanos() : base.toNanos() << doublings;
    return Optional.of(Duration.ofNanos(uniform(ceiling, random)));
  }

  private static boolean worthReconnecting(CloseInfo end) {
    if (end.refusedStatus() != CloseInfo.NOT_REFUSED) {
      return RETRY_STATUSES.contains(end.refusedStatus());
    }
    return end.retryAfter().isPresent() || RECONNECT_CODES.contains(end.code());
  }

  /** Uniform in [0, bound], both ends included. */
  private static long uniform(long bound, RandomGenerator random) {
    return bound == 0 ? 0 : random.nextLong(bound + 1);
  }
}
