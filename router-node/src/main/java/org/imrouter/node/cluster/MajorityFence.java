package org.imrouter.node.cluster;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.ClusterEvent.CurrentClusterState;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.UniqueAddress;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * Whether this node may write to the journal now: only while it would be on the side the Split
 * Brain Resolver (keep-majority) keeps, judged at the moment of the write by this node's own
 * failure detector. Entities ask before every journal write (docs/decisions/0012).
 *
 * <p>Why: after a partition, or a node that stalls (GC pause, CPU starvation, SIGSTOP) and
 * comes back, the majority downs the lost node and starts its entities elsewhere after {@code
 * stable-after} plus the down-removal margin. The lost node learns of this only later, and
 * until then it would still write with its old incarnations: two writers of one persistence id,
 * the same seq written twice. The margin only covers the ordinary case; this fence covers the
 * rest. The failure detector's verdict is computed from the time since the last heartbeat, so a
 * node that wakes up from a stall is fenced at once, before any gossip reaches it, and it stays
 * fenced because the majority that quarantined it answers no more heartbeats. The answers to the
 * heartbeats it sent just before a stall can make the others look alive for a moment after it;
 * {@link StallWatch} covers that moment.
 *
 * <p>A node that is not running a cluster (unit tests) and a node that is not yet a full member
 * (it holds no shards) are never fenced; a node that was downed or removed always is.
 */
public final class MajorityFence implements Extension {
  private static final Set<MemberStatus> VOTERS = Set.of(MemberStatus.up(), MemberStatus.leaving(), MemberStatus.exiting());

  /** What a refused request is told; the client resends on another node. */
  public static final String REFUSAL = "this node is cut off from the cluster";

  /**
   * The fences of the actor systems running in this process (one in production; tests run
   * several), for the storage driver's check ({@link FencedRequestThrottler}), which has no
   * actor system at hand.
   */
  private static final Set<MajorityFence> IN_PROCESS = new CopyOnWriteArraySet<>();

  private final Cluster cluster; // null without a cluster
  private final StallWatch stalls; // null without a cluster
  /** What the checks need from the latest cluster state, rebuilt only when that state changes. */
  private volatile View view;
  /** Members whose cluster port refused this node's last connect: their process is gone, or a firewall stands between. */
  private volatile Set<Address> refusing = Set.of();

  /**
   * The voters' addresses and the unreachable ones of one cluster state (the cluster publishes a
   * new state object on every change), and when the set of members last changed.
   */
  private record View(CurrentClusterState state, List<Address> voters, Set<Address> unreachable, Set<UniqueAddress> members,
      long membersChangedAtNanos) {
    static View of(CurrentClusterState state, View previous, long now) {
      List<Address> voters = new ArrayList<>();
      Set<UniqueAddress> members = new HashSet<>();
      for (Member m : state.getMembers()) {
        members.add(m.uniqueAddress());
        if (VOTERS.contains(m.status())) {
          voters.add(m.address());
        }
      }
      Set<Address> unreachable = state.getUnreachable().stream().map(Member::address).collect(Collectors.toUnmodifiableSet());
      boolean changed = previous == null || !previous.members().equals(members);
      return new View(state, List.copyOf(voters), unreachable, Set.copyOf(members), changed ? now : previous.membersChangedAtNanos());
    }
  }

  private MajorityFence(ActorSystem<?> system) {
    String provider = system.settings().config().getString("pekko.actor.provider");
    boolean clustered = provider.equals("cluster") || provider.endsWith(".ClusterActorRefProvider");
    this.cluster = clustered ? Cluster.get(Adapter.toClassic(system)) : null;
    if (clustered) {
      // A stall the failure detector tolerates cannot have got this node downed; after a longer
      // one, hold writes for as long as the survivors wait before they move its entities.
      Config config = system.settings().config();
      Duration stall = config.getDuration("pekko.cluster.failure-detector.acceptable-heartbeat-pause");
      Duration stableAfter = config.getDuration("pekko.cluster.split-brain-resolver.stable-after");
      // "off" means the resolver's stable-after, as the resolver itself reads it
      String margin = config.getString("pekko.cluster.down-removal-margin");
      Duration hold = stableAfter.plus(margin.equals("off") ? stableAfter : config.getDuration("pekko.cluster.down-removal-margin"));
      Duration tick = config.getDuration("router.cluster.stall-tick");
      this.stalls = new StallWatch(stall.toNanos(), hold.toNanos(), System.nanoTime());
      // on the scheduler's own thread: a busy dispatcher must not look like a stall
      system.scheduler().scheduleAtFixedRate(tick, tick, () -> stalls.tick(System.nanoTime()), scala.concurrent.ExecutionContext.fromExecutor(Runnable::run));
    } else {
      this.stalls = null;
    }
    IN_PROCESS.add(this);
    system.getWhenTerminated().thenRun(() -> IN_PROCESS.remove(this));
  }

  /**
   * True when every node in this process may write: a process that hosts a fenced node sends
   * nothing to storage.
   */
  public static boolean processMayWrite() {
    for (MajorityFence fence : IN_PROCESS) {
      if (!fence.mayWrite()) {
        return false;
      }
    }
    return true;
  }

  /**
   * True while the cluster is changing: a member is unreachable, or the set of members changed
   * within {@code window} (shards are moving, and a request may have gone to a node that is
   * gone or handed its shard off). Sessions resend only then (router.session.resend-window).
   * Always false without a cluster.
   */
  public boolean changing(Duration window) {
    if (cluster == null) {
      return false;
    }
    long now = System.nanoTime();
    View v = view(now);
    return !v.unreachable().isEmpty() || now - v.membersChangedAtNanos() < window.toNanos();
  }

  /**
   * The view of the current cluster state. Racy by design: two callers may both rebuild it for a
   * new state, and either result is right.
   */
  private View view(long now) {
    CurrentClusterState state = cluster.state();
    View v = view;
    if (v == null || v.state() != state) {
      v = View.of(state, v, now);
      view = v;
    }
    return v;
  }

  public static MajorityFence get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** True when this node may write; counts a refusal in the metrics when not. */
  public boolean mayWrite() {
    boolean may = onKeptSide();
    if (!may) {
      RouterMetrics.writeFenced();
    }
    return may;
  }

  /**
   * True when this node is on the side keep-majority keeps, judged now: what {@link #mayWrite}
   * answers, without counting anything.
   */
  public boolean onKeptSide() {
    if (cluster == null) {
      return true;
    }
    Member self = cluster.selfMember();
    long now = System.nanoTime();
    View v = view(now);
    // "Removed" is also how a node that has not joined yet sees itself, with no members
    boolean gone = self.status() == MemberStatus.down() || (self.status() == MemberStatus.removed() && !v.members().isEmpty());
    if (gone) {
      return false;
    }
    if (!VOTERS.contains(self.status())) {
      return true;
    }
    if (v.voters().size() == 1) {
      return true; // a cluster of one: nobody else can have taken its entities over
    }
    if (!stalls.steady(now)) {
      return false;
    }
    Address selfAddress = self.address();
    // the failure detector is asked at the moment of the write, not taken from the view: it
    // judges by the time since the last heartbeat, which is what a node waking from a stall needs
    Set<Address> refused = refusing;
    return onSurvivingSide(
        v.voters(),
        a -> a.equals(selfAddress)
            || (cluster.failureDetector().isAvailable(a) && !v.unreachable().contains(a) && !refused.contains(a)));
  }

  /**
   * The members whose cluster port refused this node's last connect ({@link DeadMemberDowning}):
   * counted unreachable at once, before the failure detector notices. For a member whose process
   * is gone that changes nothing here; for a firewall that refuses both ways it fences the side
   * that is cut off as soon as the others may down it.
   */
  void refusing(Set<Address> members) {
    refusing = Set.copyOf(members);
  }

  /**
   * Keep-majority's verdict for the side of {@code voters} this node reaches: more than half of
   * them, or exactly half including the one with the lowest address (the resolver's tie-break).
   */
  static boolean onSurvivingSide(Collection<Address> voters, Predicate<Address> reachable) {
    int reached = 0;
    Address lowest = null;
    for (Address a : voters) {
      if (reachable.test(a)) {
        reached++;
      }
      if (lowest == null || Member.addressOrdering().compare(a, lowest) < 0) {
        lowest = a;
      }
    }
    if (2 * reached != voters.size()) {
      return 2 * reached > voters.size();
    }
    return lowest != null && reachable.test(lowest);
  }

  /** The extension's id: one fence per actor system. */
  public static final class Id extends ExtensionId<MajorityFence> {
    static final Id INSTANCE = new Id();

    @Override
    public MajorityFence createExtension(ActorSystem<?> system) {
      return new MajorityFence(system);
    }
  }
}
