package org.imrouter.node.stream;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EffectFactories;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * What one journal write of a batching entity does: the events to persist, in order, and what
 * to do once they are durable (replies, pushes, transfers). Built while the buffered commands
 * are decided one by one against the state as it will be after the events before them.
 */
public final class Batch<S, E> {
  private final List<E> events = new ArrayList<>();
  private final List<Runnable> afterWrite = new ArrayList<>();
  private S state;

  public Batch(S state) {
    this.state = state;
  }

  /** The state as it will be after the events added so far. */
  public S state() {
    return state;
  }

  public void persist(E event, S stateAfter) {
    events.add(event);
    state = stateAfter;
  }

  /** Runs after the whole batch is durable (or at once when the batch writes nothing). */
  public void then(Runnable action) {
    afterWrite.add(action);
  }

  public List<E> events() {
    return events;
  }

  public void runAfterWrite() {
    afterWrite.forEach(Runnable::run);
  }

  /**
   * The effect that writes the batch as one journal write, then runs what waits for it; with no
   * events (every command was a duplicate or refused) the replies go out at once.
   *
   * @param entity the entity kind, for the persist metrics
   */
  public Effect<E, S> effect(EffectFactories<E, S> effects, String entity) {
    if (events.isEmpty()) {
      runAfterWrite();
      return effects.none();
    }
    long started = System.nanoTime();
    int written = events.size();
    return effects
        .persist(events)
        .thenRun(
            after -> {
              RouterMetrics.batchWritten(entity, written, Duration.ofNanos(System.nanoTime() - started));
              runAfterWrite();
            });
  }
}
