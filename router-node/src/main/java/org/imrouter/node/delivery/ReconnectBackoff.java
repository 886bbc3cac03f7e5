package org.imrouter.node.delivery;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.config.RouterSettings;

/**
 * The delay suggested to a client the server sends away and wants back: a close that asks it to
 * reconnect (1001) or a refused upgrade (503). Drawn at random per connection within
 * router.http.reconnect-backoff-min/-max, so the clients of one drained node spread their
 * reconnects over the window instead of arriving at the survivors together.
 *
 * <p>Wire format (decision 0004): the close reason ends with {@code " retry-after-ms=<n>"}, a
 * whole number of milliseconds; a 503 carries {@code Retry-After: <seconds>}, the same delay
 * rounded up to whole seconds as RFC 9110 wants it.
 */
public final class ReconnectBackoff {
  /** What precedes the delay in a close reason; clients look for it anywhere in the reason. */
  public static final String HINT = "retry-after-ms=";

  /**
   * RFC 6455: a close frame's payload is at most 125 bytes, two of which are the code; Pekko
   * fails the connection on a longer reason instead of sending it.
   */
  public static final int MAX_REASON_BYTES = 123;

  private final long minMillis;
  private final long maxMillis;

  public ReconnectBackoff(Duration min, Duration max) {
    this.minMillis = min.toMillis();
    this.maxMillis = max.toMillis();
  }

  public static ReconnectBackoff fromSettings(RouterSettings.Http http) {
    return new ReconnectBackoff(http.reconnectBackoffMin(), http.reconnectBackoffMax());
  }

  /** A fresh delay, uniform over the window (both ends included). */
  public Duration next() {
    return Duration.ofMillis(ThreadLocalRandom.current().nextLong(minMillis, maxMillis + 1));
  }

  /**
   * {@code why} followed by a fresh delay: {@code "node shutting down, reconnect
   * retry-after-ms=1834"}.
   *
   * @throws IllegalArgumentException if the reason would not fit a close frame (a programming
   *     error: reasons are constants, and the longest delay adds at most 35 bytes)
   */
  public String reason(String why) {
    String reason = why + " " + HINT + next().toMillis();
    if (reason.getBytes(StandardCharsets.UTF_8).length > MAX_REASON_BYTES) {
      throw new IllegalArgumentException("close reason over " + MAX_REASON_BYTES + " bytes: " + reason);
    }
    return reason;
  }

  /** A fresh delay in whole seconds, rounded up (at least 1), for an HTTP Retry-After header. */
  public long nextSeconds() {
    long millisPerSecond = TimeUnit.SECONDS.toMillis(1);
    return Math.max(1, (next().toMillis() + millisPerSecond - 1) / millisPerSecond);
  }
}
