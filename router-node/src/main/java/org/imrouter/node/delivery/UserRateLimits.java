package org.imrouter.node.delivery;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;
import org.imrouter.node.config.LimitedFrame;
import org.imrouter.node.config.RouterSettings;

/**
 * Token buckets per user and per kind of frame that costs the node work, shared by all of the
 * user's connections on this node: a second connection, or a reconnect, brings no fresh tokens
 * (five consecutive connections of one user once sent 500 messages in 0.9 s against a limit of
 * about 144). A user's buckets stay after their last connection closes until they would be full
 * again, so reconnecting does not refill them either; memory is bounded by the users that
 * connected within the last few refill periods.
 *
 * <p>Limits hold per node: a user whose connections land on several nodes gets each node's rate.
 */
public final class UserRateLimits {
  private final Map<LimitedFrame, RouterSettings.Rate> rates;
  private final LongSupplier nanoClock;
  private final long keepNanos;
  private final Map<String, Buckets> users = new ConcurrentHashMap<>();
  private volatile long lastSweepNanos;

  public UserRateLimits(Map<LimitedFrame, RouterSettings.Rate> rates, LongSupplier nanoClock) {
    this.rates = Map.copyOf(rates);
    this.nanoClock = nanoClock;
    // the longest time any bucket needs to refill from empty
    this.keepNanos = rates.values().stream().mapToLong(r -> (long) Math.ceil(1e9 * r.burst() / r.perSecond())).max().orElse(0);
    this.lastSweepNanos = nanoClock.getAsLong();
  }

  public static UserRateLimits fromSettings(RouterSettings.Limits limits) {
    return new UserRateLimits(limits.perUser(), System::nanoTime);
  }

  /** The buckets of {@code userId} for a new connection of theirs; call {@link Buckets#release} when it ends. */
  public Buckets attach(String userId) {
    sweepNowAndThen();
    // compute is atomic per key, like the sweep's removal: a user's buckets are never dropped
    // while a connection attaches to them
    return users.compute(userId, (id, existing) -> (existing != null ? existing : new Buckets()).attached());
  }

  /** Users currently holding buckets (connected, or refilling since their last connection). */
  public int size() {
    return users.size();
  }

  /** Drops the buckets of users gone long enough to be full again; at most once per refill period. */
  private void sweepNowAndThen() {
    long now = nanoClock.getAsLong();
    if (now - lastSweepNanos < keepNanos) {
      return;
    }
    lastSweepNanos = now;
    for (String id : users.keySet()) {
      users.computeIfPresent(id, (k, b) -> b.refilledBy(now) ? null : b);
    }
  }

  /** One user's buckets. Thread-safe: the user's sessions share it. */
  public final class Buckets {
    private final EnumMap<LimitedFrame, TokenBucket> buckets = new EnumMap<>(LimitedFrame.class);
    private int connections;
    private long lastReleaseNanos;

    private Buckets() {
      rates.forEach((kind, rate) -> buckets.put(kind, new TokenBucket(rate.perSecond(), rate.burst(), nanoClock)));
    }

    /** Takes one token of {@code kind}; false when the user is over that rate. */
    public synchronized boolean tryAcquire(LimitedFrame kind) {
      return buckets.get(kind).tryAcquire();
    }

    /** The rate of a kind, for the error message. */
    public int perSecond(LimitedFrame kind) {
      return rates.get(kind).perSecond();
    }

    private synchronized Buckets attached() {
      connections++;
      return this;
    }

    /** The connection that attached these buckets has ended. */
    public synchronized void release() {
      connections--;
      lastReleaseNanos = nanoClock.getAsLong();
    }

    private synchronized boolean refilledBy(long now) {
      return connections == 0 && now - lastReleaseNanos >= keepNanos;
    }
  }
}
