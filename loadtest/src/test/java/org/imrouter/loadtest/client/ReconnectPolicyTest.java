package org.imrouter.loadtest.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

/**
 * The load generator's reconnect rule: the server's suggested delay is read from a close reason
 * or a Retry-After header and waited for plus bounded jitter; without one the wait is exponential
 * with full jitter up to a cap; ends that reconnecting does not cure are not retried. Randomness is
 * a seeded generator or one pinned to either end of its range, so every bound is checked exactly.
 */
class ReconnectPolicyTest {
  private static final Duration JITTER = Duration.ofMillis(100);
  private static final Duration BASE = Duration.ofMillis(250);
  private static final Duration CAP = Duration.ofSeconds(4);
  private static final ReconnectPolicy POLICY = new ReconnectPolicy(JITTER, BASE, CAP);
  private static final long SEED = 42;
  private static final int DRAWS = 10_000;
  private static final int GOING_AWAY = 1001;

  /** Always the lowest value of a range. */
  private static final RandomGenerator LOWEST = new Pinned(false);
  /** Always the highest value of a range. */
  private static final RandomGenerator HIGHEST = new Pinned(true);

  private record Pinned(boolean highest) implements RandomGenerator {
    @Override
    public long nextLong() {
      throw new UnsupportedOperationException("only bounded draws");
    }

    @Override
    public long nextLong(long bound) {
      return highest ? bound - 1 : 0;
    }
  }

  private static CloseInfo closed(int code, String reason) {
    return new CloseInfo(code, reason, 0);
  }

  @Test
  void readsTheDelayAtTheEndOfACloseReason() {
    assertEquals(Optional.of(Duration.ofMillis(1834)), RetryHint.fromCloseReason("node shutting down, reconnect retry-after-ms=1834"));
    assertEquals(Optional.of(Duration.ofMillis(7)), RetryHint.fromCloseReason("retry-after-ms=7"));
    assertEquals(Optional.empty(), RetryHint.fromCloseReason("node shutting down, reconnect"));
    assertEquals(Optional.empty(), RetryHint.fromCloseReason("not-retry-after-ms=5"));
    assertEquals(Optional.empty(), RetryHint.fromCloseReason("retry-after-ms=soon"));
    assertEquals(Optional.empty(), RetryHint.fromCloseReason(null));
  }

  @Test
  void readsRetryAfterSecondsAndIgnoresDates() {
    assertEquals(Optional.of(Duration.ofSeconds(3)), RetryHint.fromRetryAfter("3"));
    assertEquals(Optional.of(Duration.ofSeconds(7)), RetryHint.fromRetryAfter(" 7 "));
    assertEquals(Optional.empty(), RetryHint.fromRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT"));
    assertEquals(Optional.empty(), RetryHint.fromRetryAfter(null));
  }

  @Test
  void aCloseCarriesTheHintOfItsReason() {
    assertEquals(Optional.of(Duration.ofMillis(900)), closed(GOING_AWAY, "storage unavailable, reconnect retry-after-ms=900").retryAfter());
  }

  @Test
  void aSuggestedDelayIsWaitedForPlusAtMostTheJitter() {
    Duration hint = Duration.ofMillis(1834);
    CloseInfo drained = closed(GOING_AWAY, "node shutting down, reconnect retry-after-ms=1834");
    assertEquals(Optional.of(hint), POLICY.delay(drained, 1, LOWEST));
    assertEquals(Optional.of(hint.plus(JITTER)), POLICY.delay(drained, 1, HIGHEST));
    // the hint is the server's: it does not grow with the attempt
    assertEquals(Optional.of(hint.plus(JITTER)), POLICY.delay(drained, 5, HIGHEST));
    Random random = new Random(SEED);
    for (int i = 0; i < DRAWS; i++) {
      Duration d = POLICY.delay(drained, 1, random).orElseThrow();
      assertTrue(d.compareTo(hint) >= 0 && d.compareTo(hint.plus(JITTER)) <= 0, d.toString());
    }
  }

  @Test
  void aRefusedUpgradeWaitsItsRetryAfter() {
    CloseInfo refused = CloseInfo.refused(503, Optional.of(Duration.ofSeconds(2)), 0);
    assertEquals(Optional.of(Duration.ofSeconds(2)), POLICY.delay(refused, 1, LOWEST));
    assertEquals(Optional.of(Duration.ofSeconds(2).plus(JITTER)), POLICY.delay(refused, 1, HIGHEST));
  }

  @Test
  void withoutAHintTheWaitIsExponentialWithFullJitterUpToTheCap() {
    CloseInfo broken = closed(CloseInfo.ABNORMAL, "connection closed without a close frame");
    for (int attempt = 1; attempt <= 10; attempt++) {
      Duration ceiling = BASE.multipliedBy(1L << (attempt - 1));
      Duration expected = ceiling.compareTo(CAP) < 0 ? ceiling : CAP;
      assertEquals(Optional.of(Duration.ZERO), POLICY.delay(broken, attempt, LOWEST), "full jitter starts at zero");
      assertEquals(Optional.of(expected), POLICY.delay(broken, attempt, HIGHEST), "attempt " + attempt);
    }
    assertEquals(Optional.of(CAP), POLICY.delay(broken, Integer.MAX_VALUE, HIGHEST), "no overflow far past the cap");
    Random random = new Random(SEED);
    for (int i = 0; i < DRAWS; i++) {
      Duration d = POLICY.delay(broken, 3, random).orElseThrow();
      assertTrue(!d.isNegative() && d.compareTo(BASE.multipliedBy(4)) <= 0, d.toString());
    }
  }

  @Test
  void goingAwayWithoutAHintAndA503WithoutRetryAfterBackOffExponentially() {
    assertEquals(Optional.of(BASE), POLICY.delay(closed(GOING_AWAY, "bye"), 1, HIGHEST));
    assertEquals(Optional.of(BASE), POLICY.delay(CloseInfo.refused(503, Optional.empty(), 0), 1, HIGHEST));
  }

  @Test
  void endsThatReconnectingDoesNotCureAreNotRetried() {
    List<CloseInfo> final_ =
        List.of(
            closed(CloseInfo.NORMAL, ""),
            closed(4029, "too many connections"),
            closed(4401, "token expired"),
            closed(1008, "policy"),
            closed(1009, "too big"),
            CloseInfo.refused(401, Optional.empty(), 0),
            CloseInfo.refused(403, Optional.of(Duration.ofSeconds(1)), 0));
    for (CloseInfo end : final_) {
      assertEquals(Optional.empty(), POLICY.delay(end, 1, HIGHEST), end.toString());
    }
  }

  @Test
  void retriesMoveToTheNextEndpoint() {
    List<String> urls = SessionRamp.endpoints("ws://a:1/v1/ws, ws://b:2/v1/ws");
    assertEquals(List.of("ws://a:1/v1/ws", "ws://b:2/v1/ws"), urls);
    assertEquals("ws://a:1/v1/ws", SessionRamp.endpoint(urls, 0, 0));
    assertEquals("ws://b:2/v1/ws", SessionRamp.endpoint(urls, 0, 1));
    assertEquals("ws://b:2/v1/ws", SessionRamp.endpoint(urls, 1, 0));
    assertEquals("ws://a:1/v1/ws", SessionRamp.endpoint(urls, 1, 1));
    assertEquals(List.of("ws://only/v1/ws"), SessionRamp.endpoints("ws://only/v1/ws"));
  }
}
