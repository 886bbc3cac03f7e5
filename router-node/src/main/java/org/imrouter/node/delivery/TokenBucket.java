package org.imrouter.node.delivery;

import java.util.function.LongSupplier;

/**
 * A token bucket: {@code perSecond} tokens a second, up to {@code burst} saved, starting full.
 * Not thread-safe: its owner synchronizes (a user's {@link UserRateLimits}, a backend's publishes).
 */
public final class TokenBucket {
  private static final double NANOS_PER_SECOND = 1_000_000_000.0;

  private final double perNano;
  private final double burst;
  private final LongSupplier nanoClock;
  private double tokens;
  private long last;

  public TokenBucket(int perSecond, int burst, LongSupplier nanoClock) {
    this.perNano = perSecond / NANOS_PER_SECOND;
    this.burst = burst;
    this.nanoClock = nanoClock;
    this.tokens = burst;
    this.last = nanoClock.getAsLong();
  }

  public boolean tryAcquire() {
    long now = nanoClock.getAsLong();
    tokens = Math.min(burst, tokens + (now - last) * perNano);
    last = now;
    if (tokens >= 1) {
      tokens -= 1;
      return true;
    }
    return false;
  }
}
