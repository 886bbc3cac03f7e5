package org.imrouter.loadtest.client;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the delay a server suggests before reconnecting: {@code retry-after-ms=<n>} in a close
 * reason (the router's 1001 on drain or storage outage, decision 0004), or an HTTP {@code
 * Retry-After} header in seconds on a refused upgrade (503). Anything else is no hint.
 */
public final class RetryHint {
  /** Up to 18 digits, so that any match fits a long. */
  private static final Pattern IN_REASON = Pattern.compile("(?:^|\\s)retry-after-ms=(\\d{1,18})(?:\\s|$)");

  private static final Pattern DELTA_SECONDS = Pattern.compile("\\d{1,18}");

  private RetryHint() {}

  public static Optional<Duration> fromCloseReason(String reason) {
    if (reason == null) {
      return Optional.empty();
    }
    Matcher m = IN_REASON.matcher(reason);
    return m.find() ? Optional.of(Duration.ofMillis(Long.parseLong(m.group(1)))) : Optional.empty();
  }

  /**
   * A Retry-After header's delta-seconds; the HTTP-date form (which the router never sends) is no
   * hint, nor is an absent header.
   */
  public static Optional<Duration> fromRetryAfter(String header) {
    if (header == null || !DELTA_SECONDS.matcher(header.trim()).matches()) {
      return Optional.empty();
    }
    return Optional.of(Duration.ofSeconds(Long.parseLong(header.trim())));
  }
}
