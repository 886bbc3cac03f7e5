package org.imrouter.node.stream;

import java.time.Duration;
import org.apache.pekko.actor.typed.BackoffSupervisorStrategy;
import org.apache.pekko.actor.typed.SupervisorStrategy;

/**
 * How a user or group entity restarts after its journal failed it (a write or a recovery that
 * timed out or was refused): after {@code transfer-retry} at first, doubling, to at most
 * {@link #MAX_FACTOR} times that, each delay stretched by up to {@link #RANDOM_FACTOR} at random
 * so that the entities of a node do not all retry at once.
 *
 * <p>The ceiling is what a client waits, at worst, after storage comes back: with all of
 * Cassandra unreachable for 30 s under load, a ceiling of 20 s (factor 10) kept clients waiting
 * 16–34 s after it returned (ClusterFaultTest). A retry during an outage costs little: the
 * journal's open circuit breaker refuses it at once.
 */
public final class EntityRestarts {
  static final int MAX_FACTOR = 3;
  static final double RANDOM_FACTOR = 0.2;

  private EntityRestarts() {}

  public static BackoffSupervisorStrategy backoff(Duration transferRetry) {
    return SupervisorStrategy.restartWithBackoff(transferRetry, transferRetry.multipliedBy(MAX_FACTOR), RANDOM_FACTOR);
  }

  /** The longest an entity waits before it restarts, its random stretch included. */
  public static Duration ceiling(Duration transferRetry) {
    return Duration.ofMillis(Math.round(transferRetry.multipliedBy(MAX_FACTOR).toMillis() * (1 + RANDOM_FACTOR)));
  }
}
