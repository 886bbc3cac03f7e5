package org.imrouter.node.cluster;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.UniqueAddress;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Subscribe;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * Downs an unreachable member at once when its cluster port refuses connections, instead of
 * after the Split Brain Resolver's {@code stable-after}: its process is gone (kill -9, a crash,
 * an out-of-memory kill), so nothing of it can write any more, and every second waited is a
 * second its users go without service (docs/decisions/0016).
 *
 * <p>Only a refusal counts ({@link PortProbe}): a member that stands still or is cut off gives
 * no answer, and waits for the resolver as before. A member is downed only after {@code
 * refusals} refusals in a row, and only while this node is on the side keep-majority keeps
 * ({@link MajorityFence#onKeptSide}), so that a firewall answering for a live member that is cut
 * off can at worst make the majority do what the resolver would have done a little later. Only
 * for Artery over TCP: other transports have no TCP port to probe.
 */
public final class DeadMemberDowning {
  /** Statuses of a member whose loss the resolver would decide; others leave or are gone. */
  private static final Set<MemberStatus> DOWNABLE = Set.of(MemberStatus.up(), MemberStatus.weaklyUp(), MemberStatus.joining());
  private static final Set<String> TCP_TRANSPORTS = Set.of("tcp", "tls-tcp");

  /** What it reacts to. */
  public sealed interface Command {}

  private record Reachability(ClusterEvent.ReachabilityEvent event) implements Command {}

  private record Removed(ClusterEvent.MemberRemoved event) implements Command {}

  private record ProbeDue(UniqueAddress member) implements Command {}

  private record Probed(UniqueAddress member, PortProbe.Outcome outcome) implements Command {}

  /** The settings under router.cluster.dead-member-downing. */
  record Settings(boolean enabled, Duration probeInterval, int refusals, Duration connectTimeout) {
    static Settings fromConfig(Config config) {
      Config c = config.getConfig("router.cluster.dead-member-downing");
      return new Settings(
          c.getBoolean("enabled") && TCP_TRANSPORTS.contains(config.getString("pekko.remote.artery.transport")),
          c.getDuration("probe-interval"),
          c.getInt("refusals"),
          c.getDuration("connect-timeout"));
    }
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Settings settings;
  private final Executor blocking;
  /** Unreachable members being probed, with the refusals in a row each has given. */
  private final Map<UniqueAddress, Integer> suspects = new HashMap<>();

  private DeadMemberDowning(ActorContext<Command> ctx, TimerScheduler<Command> timers, Settings settings) {
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.blocking = ctx.getSystem().dispatchers().lookup(DispatcherSelector.blocking());
  }

  /** Nothing (an empty behavior) when switched off or without a TCP transport. */
  public static Behavior<Command> create(Config config) {
    Settings settings = Settings.fromConfig(config);
    if (!settings.enabled()) {
      return Behaviors.empty();
    }
    return Behaviors.setup(
        ctx ->
            Behaviors.withTimers(
                timers -> {
                  Cluster cluster = Cluster.get(ctx.getSystem());
                  ActorRef<ClusterEvent.ReachabilityEvent> reachability =
                      ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class, Reachability::new);
                  ActorRef<ClusterEvent.MemberRemoved> removed = ctx.messageAdapter(ClusterEvent.MemberRemoved.class, Removed::new);
                  cluster.subscriptions().tell(Subscribe.create(reachability, ClusterEvent.ReachabilityEvent.class));
                  cluster.subscriptions().tell(Subscribe.create(removed, ClusterEvent.MemberRemoved.class));
                  return new DeadMemberDowning(ctx, timers, settings).behavior();
                }));
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Reachability.class, r -> onReachability(r.event()))
        .onMessage(Removed.class, r -> forget(r.event().member().uniqueAddress()))
        .onMessage(ProbeDue.class, p -> probe(p.member()))
        .onMessage(Probed.class, this::onProbed)
        .build();
  }

  private Behavior<Command> onReachability(ClusterEvent.ReachabilityEvent event) {
    Member member = event.member();
    if (event instanceof ClusterEvent.UnreachableMember && DOWNABLE.contains(member.status())) {
      if (suspects.putIfAbsent(member.uniqueAddress(), 0) == null) {
        ctx.getSelf().tell(new ProbeDue(member.uniqueAddress()));
      }
      return Behaviors.same();
    }
    return forget(member.uniqueAddress());
  }

  private Behavior<Command> forget(UniqueAddress member) {
    suspects.remove(member);
    timers.cancel(member);
    return Behaviors.same();
  }

  private Behavior<Command> probe(UniqueAddress member) {
    if (!suspects.containsKey(member)) {
      return Behaviors.same();
    }
    String host = member.address().getHost().get();
    int port = (Integer) member.address().getPort().get();
    // a blocking connect, off the actor's thread
    ctx.pipeToSelf(
        CompletableFuture.supplyAsync(() -> PortProbe.connect(host, port, settings.connectTimeout()), blocking),
        (outcome, failure) -> new Probed(member, failure == null ? outcome : PortProbe.Outcome.UNKNOWN));
    return Behaviors.same();
  }

  private Behavior<Command> onProbed(Probed probed) {
    UniqueAddress member = probed.member();
    Integer before = suspects.get(member);
    if (before == null) {
      return Behaviors.same(); // reachable again, or removed, while the probe ran
    }
    int refusals = probed.outcome() == PortProbe.Outcome.REFUSED ? before + 1 : 0;
    if (refusals >= settings.refusals() && MajorityFence.get(ctx.getSystem()).onKeptSide()) {
      ctx.getLog()
          .warn(
              "{} is unreachable and its cluster port refused {} connections in a row: its process is gone; downing it now",
              member.address(),
              refusals);
      RouterMetrics.deadMemberDowned();
      Cluster.get(ctx.getSystem()).manager().tell(new Down(member.address()));
      return forget(member);
    }
    suspects.put(member, refusals);
    timers.startSingleTimer(member, new ProbeDue(member), settings.probeInterval());
    return Behaviors.same();
  }
}
