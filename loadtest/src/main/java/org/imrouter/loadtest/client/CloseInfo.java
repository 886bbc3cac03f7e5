package org.imrouter.loadtest.client;

import java.time.Duration;
import java.util.Optional;

/**
 * How a connection ended: the server's close code (1000 for a normal close, {@link #ABNORMAL}
 * when the connection broke without a close frame or never became a WebSocket) and reason; for
 * an upgrade the server refused, its HTTP status ({@link #NOT_REFUSED} otherwise); and the delay
 * the server suggested before reconnecting, if it gave one ({@link RetryHint}).
 */
public record CloseInfo(int code, String reason, long atNanos, int refusedStatus, Optional<Duration> retryAfter) {
  /** RFC 6455's "no close frame received" code. */
  public static final int ABNORMAL = 1006;

  public static final int NORMAL = 1000;

  /** The upgrade was not refused with an HTTP status (it succeeded, or never got an answer). */
  public static final int NOT_REFUSED = 0;

  /** A WebSocket close (or a connection that broke): the suggested delay comes from the reason. */
  public CloseInfo(int code, String reason, long atNanos) {
    this(code, reason, atNanos, NOT_REFUSED, RetryHint.fromCloseReason(reason));
  }

  /** An upgrade the server answered with {@code status} instead of 101. */
  public static CloseInfo refused(int status, Optional<Duration> retryAfter, long atNanos) {
    return new CloseInfo(ABNORMAL, "upgrade refused with HTTP " + status, atNanos, status, retryAfter);
  }
}
