package org.imrouter.node.stream;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * What this node's entities last learnt of their journal: whether it fails every write and
 * recovery, so that sessions and the gRPC ingress refuse sends {@code UNAVAILABLE} at once
 * instead of handing them to an entity that cannot write them.
 *
 * <p>Why: during a storage outage a send that reaches an entity mostly lands in the persistence
 * library's stash (a write is in flight, or the entity is restarting or recovering), which is
 * dropped when that write or recovery fails; its asker hears nothing until its ask timeout, 5 s
 * (ClusterFaultTest, all Cassandra frozen: median answer 5.02 s).
 *
 * <p>Storage counts as failing after {@link #failuresInARow} journal failures with no success in
 * between (the journal's own circuit breaker opens after as many), for as long as failures keep
 * coming: each refreshes it, and it lapses {@code window} after the last one. Any write or
 * recovery that succeeds ends it at once. Failing entities restart and recover by themselves
 * (EntityRestarts), so while storage is down failures keep coming, and once it is back the first
 * recovery that succeeds lets sends through again. One entity failing among others that write
 * never counts: their successes reset the count.
 *
 * <p>Thread-safe: entities report from their own threads.
 */
public final class StorageHealth implements Extension {
  /** What a send refused while storage fails is answered with. */
  public static final String REFUSAL = "storage unavailable, retry later with the same id";
  /** Breaker setting whose count this follows. */
  static final String BREAKER_MAX_FAILURES = "pekko.persistence.cassandra.journal.circuit-breaker.max-failures";
  /** What entities' restart backoff is derived from (EntityRestarts), read alone at start. */
  static final String TRANSFER_RETRY = "router.entity.transfer-retry";
  /**
   * The window, in restart-backoff ceilings: a restarting entity retries recovery at least once
   * per ceiling, so while storage stays down a failure comes before the window lapses.
   */
  static final int WINDOW_IN_BACKOFF_CEILINGS = 2;

  private final int failuresInARow;
  private final long windowNanos;
  private final LongSupplier clock;
  private final AtomicLong failures = new AtomicLong();
  private volatile long lastFailureNanos;

  public StorageHealth(int failuresInARow, Duration window, LongSupplier clock) {
    this.failuresInARow = failuresInARow;
    this.windowNanos = window.toNanos();
    this.clock = clock;
  }

  public static StorageHealth get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** A journal write or recovery failed. */
  public void failed() {
    lastFailureNanos = clock.getAsLong();
    failures.incrementAndGet();
  }

  /** A journal write or recovery succeeded. */
  public void succeeded() {
    if (failures.get() != 0) {
      failures.set(0);
    }
  }

  /** True while storage fails every write: refuse sends at once. */
  public boolean failing() {
    return failures.get() >= failuresInARow && clock.getAsLong() - lastFailureNanos < windowNanos;
  }

  /** The extension's id: one per actor system. */
  public static final class Id extends ExtensionId<StorageHealth> {
    static final Id INSTANCE = new Id();

    @Override
    public StorageHealth createExtension(ActorSystem<?> system) {
      Config config = system.settings().config();
      return new StorageHealth(
          config.getInt(BREAKER_MAX_FAILURES),
          EntityRestarts.ceiling(config.getDuration(TRANSFER_RETRY)).multipliedBy(WINDOW_IN_BACKOFF_CEILINGS),
          System::nanoTime);
    }
  }
}
