package org.imrouter.node.delivery;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Scheduler;
import org.imrouter.node.metrics.RouterMetrics;
import org.imrouter.node.stream.StorageHealth;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.concurrent.ExecutionContextExecutor;

/**
 * Whether this node is overloaded, judged by how late a task scheduled on the default dispatcher
 * starts: sessions, entities, the HTTP and gRPC servers all run there, so its queue is the work
 * the node has taken on and not yet done. While a probe starts {@code shed-lag} late or more
 * (and for {@code hold} after the last such probe), new sessions are refused 503 and sends
 * {@code UNAVAILABLE}, before they cost an entity, a journal write and a fan-out; what was
 * accepted is still written and delivered. Clients come back after their backoff.
 *
 * <p>Why: a node that keeps taking on work past what its CPU does starves its own cluster
 * threads (heartbeats, the shard coordinator) until the others mark it unreachable and down it,
 * which moves all its users at once and makes the survivors busier still. Slow answers and
 * refusals are better than a lost node. Why a lag and not a CPU figure: a lag is what the
 * node's work waits, whatever takes the CPU (its own work, a neighbour, a collector), and it
 * needs no platform probe.
 *
 * <p>Thread-safe: the probe writes, any thread reads.
 */
public final class NodeLoad implements Extension {
  /** What a send refused while the node is overloaded is answered with. */
  public static final String REFUSAL = "node overloaded, retry later with the same id";
  static final String CONFIG = "router.load-shedding";
  private static final Logger log = LoggerFactory.getLogger(NodeLoad.class);

  private final long shedLagNanos;
  private final long holdNanos;
  private final LongSupplier clock;
  private volatile boolean late;
  private volatile long lastLateNanos;
  /** whether the last probe found the node overloaded: only the probe reads and writes it */
  private boolean shedding;

  public NodeLoad(Duration shedLag, Duration hold, LongSupplier clock) {
    this.shedLagNanos = shedLag.toNanos();
    this.holdNanos = hold.toNanos();
    this.clock = clock;
  }

  public static NodeLoad get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /**
   * Why a send must be refused before any work, if it must: storage fails every write
   * ({@link StorageHealth}), or this node is overloaded. One check for every place that takes
   * sends (WebSocket sessions, the gRPC ingress).
   */
  public static Optional<String> sendRefusal(ActorSystem<?> system) {
    if (StorageHealth.get(system).failing()) {
      return Optional.of(StorageHealth.REFUSAL);
    }
    if (get(system).overloaded()) {
      RouterMetrics.shed("send");
      return Optional.of(REFUSAL);
    }
    return Optional.empty();
  }

  /** A probe meant to start at {@code dueNanos} started at {@code startNanos}. */
  void probed(long dueNanos, long startNanos) {
    long lag = Math.max(0, startNanos - dueNanos);
    RouterMetrics.dispatcherLag(lag);
    if (lag >= shedLagNanos) {
      lastLateNanos = startNanos;
      late = true;
    }
    boolean now = overloaded(startNanos);
    if (now != shedding) {
      shedding = now;
      if (now) {
        log.warn("Overloaded: a task on the default dispatcher started {} ms late; refusing new sessions and sends",
            TimeUnit.NANOSECONDS.toMillis(lag));
      } else {
        log.info("No longer overloaded: taking new sessions and sends again");
      }
    }
  }

  /** True while new work must be refused. */
  public boolean overloaded() {
    return overloaded(clock.getAsLong());
  }

  private boolean overloaded(long nowNanos) {
    return late && nowNanos - lastLateNanos < holdNanos;
  }

  /** Probes every {@code interval}, each scheduled when the last one ran, on {@code dispatcher}. */
  private void probe(Scheduler scheduler, ExecutionContextExecutor dispatcher, Duration interval) {
    long due = clock.getAsLong() + interval.toNanos();
    scheduler.scheduleOnce(
        interval,
        () -> {
          probed(due, clock.getAsLong());
          probe(scheduler, dispatcher, interval);
        },
        dispatcher);
  }

  /** The extension's id: one per actor system, probing from its creation when enabled. */
  public static final class Id extends ExtensionId<NodeLoad> {
    static final Id INSTANCE = new Id();

    @Override
    public NodeLoad createExtension(ActorSystem<?> system) {
      Config config = system.settings().config().getConfig(CONFIG);
      NodeLoad load = new NodeLoad(config.getDuration("shed-lag"), config.getDuration("hold"), System::nanoTime);
      if (config.getBoolean("enabled")) {
        load.probe(system.scheduler(), system.executionContext(), config.getDuration("probe-interval"));
      }
      return load;
    }
  }
}
