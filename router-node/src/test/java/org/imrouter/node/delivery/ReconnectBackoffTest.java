package org.imrouter.node.delivery;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The suggested delay stays within its window, in the wire format decision 0004 gives it. */
class ReconnectBackoffTest {
  private static final Duration MIN = Duration.ofMillis(500);
  private static final Duration MAX = Duration.ofSeconds(5);
  private static final int DRAWS = 10_000;
  private static final Pattern HINT = Pattern.compile("^node shutting down, reconnect retry-after-ms=(\\d+)$");

  private final ReconnectBackoff backoff = new ReconnectBackoff(MIN, MAX);

  @Test
  void everyDelayIsWithinTheWindow() {
    for (int i = 0; i < DRAWS; i++) {
      Duration d = backoff.next();
      assertTrue(d.compareTo(MIN) >= 0 && d.compareTo(MAX) <= 0, d.toString());
      long seconds = backoff.nextSeconds();
      assertTrue(seconds >= 1 && seconds <= MAX.toSeconds(), "Retry-After " + seconds);
    }
  }

  @Test
  void theReasonEndsWithTheDelayInMilliseconds() {
    String reason = backoff.reason("node shutting down, reconnect");
    Matcher m = HINT.matcher(reason);
    assertTrue(m.matches(), reason);
    long millis = Long.parseLong(m.group(1));
    assertTrue(millis >= MIN.toMillis() && millis <= MAX.toMillis(), reason);
  }

  @Test
  void theReasonsTheSessionUsesFitACloseFrameWhateverTheWindow() {
    ReconnectBackoff longest = new ReconnectBackoff(Duration.ofMillis(Long.MAX_VALUE - 1), Duration.ofMillis(Long.MAX_VALUE - 1));
    for (String why : new String[] {"node shutting down, reconnect", "storage unavailable, reconnect"}) {
      assertTrue(longest.reason(why).getBytes(StandardCharsets.UTF_8).length <= ReconnectBackoff.MAX_REASON_BYTES, why);
    }
  }

  @Test
  void aReasonTooLongForACloseFrameIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> backoff.reason("x".repeat(ReconnectBackoff.MAX_REASON_BYTES)));
  }
}
