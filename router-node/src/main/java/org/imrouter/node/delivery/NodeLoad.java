package org.imrouter.node.delivery;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.imrouter.node.metrics.RouterMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether this node is overloaded, judged by how late a task scheduled on the default dispatcher
 * starts: sessions, entities, the HTTP and gRPC servers all run there, so its queue is the work
 * the node has taken on and not yet done. While a probe starts {@code shed-lag} late or more, or
 * has not started {@code shed-lag} after it was due (and for {@code hold} after the last late
 * probe), new WebSocket sessions are refused 503 with a
 * Retry-After (ws/SessionAdmission), before they cost a session, an entity's wake-up and
 * recovery, and its group reads. Sessions already open go on as before.
 *
 * <p>Why: a node that keeps taking on clients past what its CPU does starves its own cluster
 * threads until the others mark it unreachable and down it, which moves all its users at once
 * and makes the survivors busier still; a node starting or taking over a lost node's clients is
 * the usual case. A refused client waits the Retry-After, seconds, so each refusal is work put
 * off. Why not sends too: a refused send comes back within a second and holds its
 * conversation meanwhile, so refusing it is more work, not less (measured: decision 0015).
 * Why a lag and not a CPU figure: a lag is what the node's work waits, whatever takes the CPU
 * (its own work, a neighbour, a collector), and it needs no platform probe.
 *
 * <p>Thread-safe: the probe writes, any thread reads.
 */
public final class NodeLoad implements Extension {
  static final String CONFIG = "router.load-shedding";
  private static final Logger log = LoggerFactory.getLogger(NodeLoad.class);

  private final long shedLagNanos;
  private final long holdNanos;
  private final LongSupplier clock;
  /** when the last late probe started; at creation, a hold ago: no overload yet */
  private volatile long lastLateNanos;
  /** when the probe waiting to start was due: a probe overdue by shed-lag counts before it runs */
  private volatile long pendingDueNanos = Long.MAX_VALUE;
  /** whether the last probe found the node overloaded: only the probe reads and writes it */
  private boolean shedding;

  public NodeLoad(Duration shedLag, Duration hold, LongSupplier clock) {
    this.shedLagNanos = shedLag.toNanos();
    this.holdNanos = hold.toNanos();
    this.clock = clock;
    this.lastLateNanos = clock.getAsLong() - holdNanos;
  }

  public static NodeLoad get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** A probe is due to start at {@code dueNanos}. */
  void scheduled(long dueNanos) {
    pendingDueNanos = dueNanos;
  }

  /** A probe meant to start at {@code dueNanos} started at {@code startNanos}. */
  void probed(long dueNanos, long startNanos) {
    pendingDueNanos = Long.MAX_VALUE;
    long lag = Math.max(0, startNanos - dueNanos);
    RouterMetrics.dispatcherLag(lag);
    if (lag >= shedLagNanos) {
      lastLateNanos = startNanos;
    }
    boolean now = overloaded(startNanos);
    if (now != shedding) {
      shedding = now;
      if (now) {
        log.warn("Overloaded: a task on the default dispatcher started {} ms late; refusing new sessions",
            TimeUnit.NANOSECONDS.toMillis(lag));
      } else {
        log.info("No longer overloaded: taking new sessions again");
      }
    }
  }

  /** True while new sessions must be refused. */
  public boolean overloaded() {
    return overloaded(clock.getAsLong());
  }

  private boolean overloaded(long nowNanos) {
    // a probe still waiting shed-lag after it was due is as late as one that started so late
    long pendingDue = pendingDueNanos;
    boolean overdue = pendingDue != Long.MAX_VALUE && nowNanos - pendingDue >= shedLagNanos;
    return overdue || nowNanos - lastLateNanos < holdNanos;
  }

  /**
   * Probes every {@code interval}, each scheduled when the last one ran, on the system's default
   * dispatcher, until the system's scheduler stops.
   */
  private void probe(ActorSystem<?> system, Duration interval) {
    long due = clock.getAsLong() + interval.toNanos();
    scheduled(due);
    try {
      system.scheduler().scheduleOnce(
          interval,
          () -> {
            try {
              probed(due, clock.getAsLong());
            } finally { // a failure to record or log must not end the probing
              probe(system, interval);
            }
          },
          system.executionContext());
    } catch (IllegalStateException stopped) {
      // the system is terminating and its scheduler takes no more tasks: probing ends with it
      pendingDueNanos = Long.MAX_VALUE;
    }
  }

  /** The extension's id: one per actor system, probing from its creation when enabled. */
  public static final class Id extends ExtensionId<NodeLoad> {
    static final Id INSTANCE = new Id();

    @Override
    public NodeLoad createExtension(ActorSystem<?> system) {
      Config config = system.settings().config().getConfig(CONFIG);
      NodeLoad load = new NodeLoad(config.getDuration("shed-lag"), config.getDuration("hold"), System::nanoTime);
      if (config.getBoolean("enabled")) {
        load.probe(system, config.getDuration("probe-interval"));
      }
      return load;
    }
  }
}
