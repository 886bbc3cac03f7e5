package org.imrouter.node.stream;

import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.RecoveryFailed;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EffectFactories;
import org.apache.pekko.persistence.typed.javadsl.SignalHandlerBuilder;
import org.imrouter.node.cluster.MajorityFence;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * The write path every batching entity (a user's inbox, a group) shares: commands wait in a
 * {@link WriteBuffer}, each flush decides them one by one into a {@link Batch} written as one
 * journal write, a node cut off from the cluster refuses instead of writing (decision 0012), and
 * every outcome is reported to {@link StorageHealth}. When the entity restarts after a failed
 * write, or stops, whoever still waits on a command not yet written hears {@code UNAVAILABLE} at
 * once instead of at its ask timeout (a storage outage answered every send after 5 s,
 * ClusterFaultTest). Not thread-safe: one entity owns it.
 *
 * @param <C> the entity's commands
 * @param <S> its state
 * @param <E> its events
 */
public final class BatchedWrites<C, S, E> {
  private final WriteBuffer<C> buffer;
  private final MajorityFence fence;
  private final StorageHealth storage;
  private final String entity;

  /**
   * @param requestFlush sends the entity its flush message, which it answers with {@link #flush}
   * @param entity the entity kind, for the persist metrics
   */
  public BatchedWrites(RouterSettings.EntitySettings settings, Runnable requestFlush, ActorSystem<?> system, String entity) {
    this.buffer = new WriteBuffer<>(settings.maxBatch(), settings.maxBatchBytes(), settings.maxPending(), settings.maxPendingBytes(), requestFlush);
    this.fence = MajorityFence.get(system);
    this.storage = StorageHealth.get(system);
    this.entity = entity;
  }

  /**
   * Takes a command in; it is decided and written with the next flush. When the entity's storage
   * is so far behind that max-pending commands (or max-pending-bytes of content) already wait, a
   * request is refused at once with UNAVAILABLE (its sender retries with the same id, after a
   * backoff) and a transfer is dropped (its sending entity resends it every transfer-retry until
   * it is acknowledged). Decision 0018.
   */
  public void add(C command) {
    if (!buffer.add(command)) {
      RouterMetrics.writeRefusedBehind(entity);
      Request.refuseAll(List.of(command), Request.BEHIND);
    }
  }

  /** True when nothing waits to be written. */
  public boolean isEmpty() {
    return buffer.isEmpty();
  }

  /**
   * Decides the next batch of commands against {@code state}, in arrival order, and writes what
   * they produce as one journal write; replies and transfers wait in the batch until it is durable.
   */
  public Effect<E, S> flush(S state, BiConsumer<Batch<S, E>, C> decide, EffectFactories<E, S> effects) {
    List<C> commands = buffer.take();
    if (!fence.mayWrite()) {
      Request.refuseAll(commands, MajorityFence.REFUSAL);
      buffer.written();
      return effects.none();
    }
    Batch<S, E> batch = new Batch<>(state);
    for (C command : commands) {
      decide.accept(batch, command);
    }
    batch.then(buffer::written);
    if (!batch.events().isEmpty()) {
      batch.then(storage::succeeded);
    }
    return batch.effect(effects, entity);
  }

  /**
   * Adds the signals of the write path to an entity's handler: a restart (only a journal failure
   * restarts an entity) and a stop answer what was not written, failures and recoveries are
   * reported, and {@code recovered} runs once the entity has its state back.
   */
  public SignalHandlerBuilder<S> signals(SignalHandlerBuilder<S> builder, Consumer<S> recovered) {
    return builder
        .onSignal(PreRestart.instance(), state -> {
          storage.failed();
          Request.refuseAll(buffer.unwritten(), Request.NOT_WRITTEN);
        })
        .onSignal(PostStop.instance(), state -> Request.refuseAll(buffer.unwritten(), Request.NOT_WRITTEN))
        .onSignal(RecoveryFailed.class, (state, failure) -> storage.failed())
        .onSignal(RecoveryCompleted.instance(), state -> {
          storage.succeeded();
          recovered.accept(state);
        });
  }
}
