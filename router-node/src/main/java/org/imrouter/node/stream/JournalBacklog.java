package org.imrouter.node.stream;

import com.typesafe.config.Config;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * Whether this node's journal writes stand in a queue, judged the way CoDel judges a router's
 * packet queue: when even the fastest batch write of the last interval took longer than the
 * target, the queue no longer drains between bursts. A burst makes some writes slow; only a
 * standing queue makes every write slow. While the queue stands, the node's entities answer new
 * requests at once with UNAVAILABLE instead of queueing them behind it (clients retry, with the
 * same clientMsgId); transfers between entities, already accepted elsewhere, still go in.
 *
 * <p>Why: past what its Cassandra can write, a node queued every send. Accept latency grew to
 * 4–7 s, writes timed out in the driver at 4 s, and their entities restarted and replayed their
 * journals: more load exactly when there was no room for it (BENCHMARKS.md, "Overload"). Refusing
 * early keeps the accepted messages fast and the node's CPU for the work it took in, the failure
 * detector's heartbeats among it.
 *
 * <p>An interval with no write at all ends a standing queue: nothing is waiting. Thread-safe:
 * every entity of the node reports to one instance.
 */
public final class JournalBacklog implements Extension {
  private final long targetNanos; // 0: never refuse
  private final long intervalNanos;
  private volatile long windowStartNanos; // read without the lock by standing()
  private long windowMinNanos = Long.MAX_VALUE;
  private long windowSamples;
  private volatile boolean standing;

  /**
   * @param target the write latency that even the fastest write of an interval stays above while
   *     the queue stands; zero turns refusing off
   * @param interval how long a window is: longer than one burst takes to drain
   */
  public JournalBacklog(Duration target, Duration interval, long nowNanos) {
    if (target.isNegative() || interval.isZero() || interval.isNegative()) {
      throw new IllegalArgumentException("target must be >= 0 and interval > 0: " + target + ", " + interval);
    }
    this.targetNanos = target.toNanos();
    this.intervalNanos = interval.toNanos();
    this.windowStartNanos = nowNanos;
  }

  public static JournalBacklog get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** One journal write finished after {@code latency}. */
  public synchronized void written(Duration latency, long nowNanos) {
    roll(nowNanos);
    windowMinNanos = Math.min(windowMinNanos, latency.toNanos());
    windowSamples++;
  }

  /** True while new requests should be refused. */
  public boolean standing(long nowNanos) {
    if (nowNanos - windowStartNanos >= intervalNanos) {
      synchronized (this) {
        roll(nowNanos);
      }
    }
    return standing;
  }

  private void roll(long nowNanos) {
    if (nowNanos - windowStartNanos < intervalNanos) {
      return;
    }
    standing = targetNanos > 0 && windowSamples > 0 && windowMinNanos > targetNanos;
    windowStartNanos = nowNanos;
    windowMinNanos = Long.MAX_VALUE;
    windowSamples = 0;
  }

  /** The extension's id: one backlog per actor system (router.overload). */
  public static final class Id extends ExtensionId<JournalBacklog> {
    static final Id INSTANCE = new Id();

    @Override
    public JournalBacklog createExtension(ActorSystem<?> system) {
      Config config = system.settings().config();
      return new JournalBacklog(
          config.getDuration("router.overload.write-latency-target"), config.getDuration("router.overload.interval"), System.nanoTime());
    }
  }
}
