package org.imrouter.node.cluster;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.stream.Collectors;
import org.apache.pekko.actor.ActorRefProvider;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.UniqueAddress;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.remote.RemoteActorRefProvider;
import org.imrouter.node.metrics.RouterMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Option;

/**
 * Downs a member at once when its cluster port refuses connections, instead of after the failure
 * detector's acceptable pause and the Split Brain Resolver's {@code stable-after}: its process
 * is gone (kill -9, a crash, an out-of-memory kill), so nothing of it can write any more, and
 * every second waited is a second its users go without service (docs/decisions/0016).
 *
 * <p>Every {@code probe-interval} it tries the cluster port of every other member that the
 * resolver could down ({@link PortProbe}). Only a refusal counts: a member that stands still or
 * is cut off gives no answer and waits for the resolver as before. A member is downed after
 * {@code refusals} refusals in a row, and only while this node is on the side keep-majority
 * keeps, counting every refusing member as lost ({@link MajorityFence#onKeptSide}). The fence
 * counts them lost for writes too: behind a firewall that refuses both ways, the cut-off side
 * stops writing as soon as the others may down it. Only for Artery over TCP: other transports
 * have no TCP port to try.
 */
public final class DeadMemberDowning {
  /** Statuses of a member whose loss the resolver would decide; the others leave or are gone. */
  private static final Set<MemberStatus> DOWNABLE = Set.of(MemberStatus.up(), MemberStatus.weaklyUp(), MemberStatus.joining());
  private static final Set<String> TCP_TRANSPORTS = Set.of("tcp", "tls-tcp");
  private static final Logger log = LoggerFactory.getLogger(DeadMemberDowning.class);

  /** What it reacts to. */
  public sealed interface Command {}

  private enum Tick implements Command {
    INSTANCE
  }

  private record Probed(UniqueAddress member, PortProbe.Outcome outcome) implements Command {}

  /** The settings under router.cluster.dead-member-downing. */
  record Settings(boolean enabled, Duration probeInterval, int refusals, Duration connectTimeout) {
    static Settings fromConfig(Config config) {
      Config c = config.getConfig("router.cluster.dead-member-downing");
      return new Settings(
          c.getBoolean("enabled"),
          c.getDuration("probe-interval"),
          c.getInt("refusals"),
          c.getDuration("connect-timeout"));
    }
  }

  private final ActorContext<Command> ctx;
  private final Settings settings;
  private final Cluster cluster;
  private final MajorityFence fence;
  private final Executor blocking;
  /** Refusals in a row per member tried. */
  private final Map<UniqueAddress, Integer> refusals = new HashMap<>();
  /** Members with a connect under way: one at a time each, however slow it is. */
  private final Set<UniqueAddress> probing = new HashSet<>();

  private DeadMemberDowning(ActorContext<Command> ctx, Settings settings) {
    this.ctx = ctx;
    this.settings = settings;
    this.cluster = Cluster.get(ctx.getSystem());
    this.fence = MajorityFence.get(ctx.getSystem());
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
  }

  /** Nothing (an empty behavior) when switched off or without a TCP transport, and says so. */
  public static Behavior<Command> create(Config config) {
    Settings settings = Settings.fromConfig(config);
    String transport = config.getString("pekko.remote.artery.transport");
    if (!settings.enabled()) {
      log.info("Dead-member downing is switched off: a member whose process is gone waits for the failure detector and the resolver");
      return Behaviors.empty();
    }
    if (!TCP_TRANSPORTS.contains(transport)) {
      log.warn("Dead-member downing needs Artery over TCP, not {}: a member whose process is gone waits for the failure detector and the resolver", transport);
      return Behaviors.empty();
    }
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.probeInterval());
                  return new DeadMemberDowning(ctx, settings).behavior();
                }));
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessageEquals(Tick.INSTANCE, this::probeAll)
        .onMessage(Probed.class, this::onProbed)
        .build();
  }

  private Behavior<Command> probeAll() {
    UniqueAddress self = cluster.selfMember().uniqueAddress();
    Set<UniqueAddress> candidates = new HashSet<>();
    for (Member m : cluster.state().getMembers()) {
      if (!m.uniqueAddress().equals(self) && DOWNABLE.contains(m.status())) {
        candidates.add(m.uniqueAddress());
      }
    }
    // members that left, were downed or removed are not tried any more
    if (refusals.keySet().retainAll(candidates)) {
      publishRefusing();
    }
    for (UniqueAddress member : candidates) {
      if (probing.add(member)) {
        String host = member.address().getHost().get();
        int port = (Integer) member.address().getPort().get();
        // a blocking connect, off the actor's thread
        ctx.pipeToSelf(
            CompletableFuture.supplyAsync(() -> PortProbe.connect(host, port, settings.connectTimeout()), blocking),
            (outcome, failure) -> new Probed(member, failure == null ? outcome : PortProbe.Outcome.UNKNOWN));
      }
    }
    return Behaviors.same();
  }

  private Behavior<Command> onProbed(Probed probed) {
    UniqueAddress member = probed.member();
    probing.remove(member);
    int before = refusals.getOrDefault(member, 0);
    int inARow = probed.outcome() == PortProbe.Outcome.REFUSED ? before + 1 : 0;
    if (inARow == 0) {
      refusals.remove(member);
    } else {
      refusals.put(member, inARow);
    }
    if ((before == 0) != (inARow == 0)) {
      publishRefusing();
    }
    if (inARow >= settings.refusals() && fence.onKeptSide()) {
      log.warn("{} refused {} connections in a row on its cluster port: its process is gone; downing it now", member.address(), inARow);
      RouterMetrics.deadMemberDowned();
      // it stays among the refusing until its status changes and the next tick drops it
      cluster.manager().tell(new Down(member.address()));
      terminate(member);
    }
    return Behaviors.same();
  }

  /**
   * Quarantines the gone incarnation, which the cluster records as terminated: the leader removes
   * a downed member only once it is unreachable or terminated, and would otherwise wait for the
   * failure detector (3-4 s under load here) before anything of it moves. True of a process that
   * is gone, and it never comes back: a restarted node joins with a new incarnation.
   */
  private void terminate(UniqueAddress member) {
    ActorRefProvider provider = ((ExtendedActorSystem) Adapter.toClassic(ctx.getSystem())).provider();
    if (provider instanceof RemoteActorRefProvider remote) {
      remote.quarantine(member.address(), Option.apply(member.longUid()), "its process is gone (cluster port refused)");
    }
  }

  private void publishRefusing() {
    Set<Address> addresses = refusals.keySet().stream().map(UniqueAddress::address).collect(Collectors.toSet());
    fence.refusing(addresses);
  }
}
