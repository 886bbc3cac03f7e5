package org.imrouter.node.delivery;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * The node's admission of sends (client sends and backend publishes), which refuses a share of
 * them UNAVAILABLE at once, before they cost anything, while the node cannot serve them in time:
 * its send path has a standing queue (CPU overload), or its storage fails every write.
 *
 * <p>The signal is CoDel's: the fastest answer of an interval. Every send answered records its
 * round trip and whether it was served. An interval in which not one send was served within
 * {@code target}, among at least {@code min-samples} answered, means no send got through without
 * waiting behind others (or that none got through at all): the share admitted halves, down to
 * {@code min-admitted}. Any other interval (a send served within the target, or too few answers
 * to judge by) doubles it again, up to all. The minimum, not a percentile, keeps a partial fault
 * from shedding: while a dead node's entities move, the sends to the other entities are still
 * fast, and nothing is refused.
 *
 * <p>Why refuse rather than queue: a send that waits seconds in a queue is answered too late to
 * matter, and the queue starves the cluster's own heartbeats and shard coordination of CPU (issue
 * history: a saturated cluster downed its own live nodes). Refused sends are never written, so
 * the client resends them later with the same id; the session holds the conversation until it
 * does, so the order of a sender's sends still holds (docs/decisions/0010). The sends still
 * admitted at the floor are the probes that see the node recover.
 *
 * <p>Thread-safe: sessions and the gRPC ingress record and ask from any thread; one scheduled task
 * ends each interval.
 */
public final class SendGate {
  private final long targetNanos;
  private final long minSamples;
  private final double minAdmitted;
  private final DoubleSupplier random;
  private final LongAdder fast = new LongAdder();
  private final LongAdder slowOrFailed = new LongAdder();
  private volatile double admitted = 1.0;

  /** @param random uniform in [0, 1): which sends are admitted while only a share is */
  public SendGate(RouterSettings.Overload settings, DoubleSupplier random) {
    this.targetNanos = settings.target().toNanos();
    this.minSamples = settings.minSamples();
    this.minAdmitted = settings.minAdmitted();
    this.random = random;
  }

  /** The node's gate, its intervals ended by the system's scheduler. */
  public static SendGate start(ActorSystem<?> system, RouterSettings.Overload settings) {
    SendGate gate = new SendGate(settings, () -> ThreadLocalRandom.current().nextDouble());
    Duration interval = settings.interval();
    system.scheduler().scheduleAtFixedRate(interval, interval, gate::endInterval, system.executionContext());
    return gate;
  }

  /** Whether a new send may go out now; a refused one must be answered UNAVAILABLE. */
  public boolean admit() {
    double share = admitted;
    if (share >= 1.0 || random.getAsDouble() < share) {
      return true;
    }
    RouterMetrics.sendShed();
    return false;
  }

  /**
   * A send that went out was answered.
   *
   * @param roundTripNanos from going out to its answer
   * @param served the answer is final: accepted (or a duplicate of an accepted one), or refused
   *     for a reason of the send's own; false for no answer in time or UNAVAILABLE
   */
  public void answered(long roundTripNanos, boolean served) {
    if (served && roundTripNanos <= targetNanos) {
      fast.increment();
    } else {
      slowOrFailed.increment();
    }
  }

  /** The share of new sends admitted now, 1.0 when the node keeps up. */
  public double admitted() {
    return admitted;
  }

  /** Ends an interval: adjusts the share admitted by what it saw. */
  public void endInterval() {
    long fastOnes = fast.sumThenReset();
    long others = slowOrFailed.sumThenReset();
    double share = admitted;
    if (fastOnes == 0 && others >= minSamples) {
      share = Math.max(minAdmitted, share / 2);
    } else {
      // a fast answer shows no standing queue; too few answers show nothing, and a queue must be
      // shown, not assumed (while shedding, the sends admitted may be too few to judge by)
      share = Math.min(1.0, share * 2);
    }
    admitted = share;
    RouterMetrics.sendsAdmitted(share);
  }
}
