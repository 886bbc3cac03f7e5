package org.imrouter.node.group;

import com.google.protobuf.ByteString;
import io.vavr.collection.LinkedHashMap;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.metrics.RouterMetrics;
import org.imrouter.node.stream.AckTracker;
import org.imrouter.node.stream.Batch;
import org.imrouter.node.stream.BatchedWrites;
import org.imrouter.node.stream.ClusterMessage;
import org.imrouter.node.stream.DedupWindow;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.EntityRestarts;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.Request;
import org.imrouter.node.stream.SeqRange;
import org.imrouter.node.stream.Sized;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.StreamPages;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.node.stream.TypingWindow;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.persist.GroupCreated;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.MembersChanged;
import org.imrouter.protocol.persist.Posted;
import org.imrouter.protocol.persist.Role;
import org.imrouter.protocol.persist.RoleChanged;

/**
 * A group: owns the group stream, its members and their roles.
 *
 * <p>Commands become events like this. {@link Create} persists {@code created}; {@link
 * AddMembers}, {@link RemoveMembers} and {@link Leave} persist the membership change (only
 * owners and admins change membership, and only members post or read); {@link Post} persists
 * {@code posted}. Every event is one item of the group stream; its persistence sequence number is
 * the item's seq. Each membership change is also transferred, at least once and deduplicated, to
 * the inbox of every user it concerns ({@link UserEntity.MembershipNotice}).
 *
 * <p>Fan-out is per node: every node's gateway that has online members watches the group
 * ({@link Watch}) and gets one {@link FeedItem} per item; the gateway delivers to its local
 * sessions. Writes are batched as in {@link UserEntity}.
 */
public final class GroupEntity {

  public static final EntityTypeKey<Command> ENTITY_TYPE_KEY = EntityTypeKey.create(Command.class, "Group");

  // ------------------------------------------------------------------ commands

  public interface Command extends ClusterMessage {}

  /** Replies {@link Reply.Done}, or ALREADY_EXISTS, TOO_LARGE, BAD_FRAME. */
  public record Create(String actor, String title, List<String> members, ActorRef<Reply> replyTo) implements Command, Sized, Request {
    @Override
    public int contentBytes() {
      return Sized.utf8Bound(title) + Sized.utf8Bound(members);
    }
  }

  /** Replies {@link Reply.Done}, or NOT_FOUND, NOT_A_MEMBER, FORBIDDEN, TOO_LARGE, BAD_FRAME. */
  public record AddMembers(String actor, List<String> members, ActorRef<Reply> replyTo) implements Command, Sized, Request {
    @Override
    public int contentBytes() {
      return Sized.utf8Bound(members);
    }
  }

  /** Replies {@link Reply.Done}, or NOT_FOUND, NOT_A_MEMBER, FORBIDDEN. */
  public record RemoveMembers(String actor, List<String> members, ActorRef<Reply> replyTo) implements Command, Request {}

  /**
   * Gives {@code member} a role; OWNER hands the group over. Only the owner or a system actor
   * (the ingress has checked that its backend may manage the group). Replies {@link Reply.Done},
   * or NOT_FOUND, NOT_A_MEMBER, FORBIDDEN, BAD_FRAME.
   */
  public record SetRole(String actor, String member, Role role, ActorRef<Reply> replyTo) implements Command, Request {}

  /** The roles a member can be given, by their names on the wire. */
  public static final Set<String> ROLE_NAMES = Set.of(Role.MEMBER.name(), Role.ADMIN.name(), Role.OWNER.name());

  /** The role named {@code name} on the wire, if it is one of {@link #ROLE_NAMES}. */
  public static java.util.Optional<Role> role(String name) {
    return ROLE_NAMES.contains(name) ? java.util.Optional.of(Role.valueOf(name)) : java.util.Optional.empty();
  }

  /** Replies {@link Reply.Done}, or NOT_FOUND, NOT_A_MEMBER, FORBIDDEN (an owner with members). */
  public record Leave(String actor, ActorRef<Reply> replyTo) implements Command, Request {}

  /** A message from member {@code from}: {@link Reply.Accepted} once durable, or a rejection. */
  public record Post(
      String from, String clientMsgId, String contentType, String text, byte[] payload, ActorRef<Reply> replyTo)
      implements Command, Sized, Request {
    @Override
    public int contentBytes() {
      return Sized.message(contentType, text, payload);
    }
  }

  /** Items after {@code afterSeq} for member {@code user}. */
  public record Sync(String user, long afterSeq, int limit, ActorRef<Reply> replyTo) implements Command {}

  /** The stream position and the role of {@code user} (null when not a member). */
  public record GetInfo(String user, ActorRef<Info> replyTo) implements Command {}

  /** Ephemeral: member {@code from} is typing; fanned out to watching gateways, never stored. */
  public record TypingFrom(String from) implements Command {}

  /** Everything about the group a backend may ask for. */
  public record Describe(ActorRef<Description> replyTo) implements Command {}

  /** A node's gateway wants the items of this group for its online users {@code users}. */
  public record Watch(ActorRef<Feed> gateway, Set<String> users) implements Command {}

  public record Unwatch(ActorRef<Feed> gateway) implements Command {}

  public record NoticeAcked(TransferAck ack) implements Command {}

  private record GatewayGone(ActorRef<Feed> gateway) implements Command {}

  public enum Stop implements Command {
    INSTANCE
  }

  private enum Flush implements Command {
    INSTANCE
  }

  private enum Tick implements Command {
    INSTANCE
  }

  // ------------------------------------------------------------------ replies and feed

  public record Info(String groupId, boolean exists, long lastSeq, Role role) implements ClusterMessage {}

  /**
   * Answer to {@link Describe}; members in the order they joined. {@code watchers} is how many
   * feeds each item goes out to: one per node with online members, plus backend subscriptions.
   */
  public record Description(
      String groupId, boolean exists, long lastSeq, String title, Map<String, Role> members, int watchers)
      implements ClusterMessage {}

  /** What a watching gateway receives. */
  public sealed interface Feed extends ClusterMessage {}

  /** Answer to {@link Watch}: which of the {@code asked} users are members, as of {@code lastSeq}. */
  public record Watching(String groupId, ActorRef<Command> group, long lastSeq, Set<String> asked, Set<String> members)
      implements Feed {}

  /** A new item of the group stream. */
  public record FeedItem(StreamItem.Group item) implements Feed {}

  /** Member {@code from} is typing in the group. */
  public record FeedTyping(String groupId, String from) implements Feed {}

  // ------------------------------------------------------------------ state

  /** A membership change on its way to a user's inbox. */
  public record Notice(boolean member, String actor) {}

  /**
   * The group as of the last event: immutable; every method returns a new state.
   *
   * @param members user → role, in the order they joined
   * @param periods when each user who is or was a member was one (history reads)
   */
  public record State(
      String groupId,
      boolean created,
      String title,
      long lastSeq,
      LinkedHashMap<String, Role> members,
      MembershipPeriods periods,
      RecentItems recent,
      DedupWindow dedup,
      Outbox<Notice> outbox) {

    public static State empty(String groupId, RouterSettings.EntitySettings settings) {
      return new State(
          groupId,
          false,
          "",
          0,
          LinkedHashMap.empty(),
          MembershipPeriods.empty(),
          RecentItems.empty(settings.recentItems()),
          DedupWindow.empty(settings),
          Outbox.empty());
    }

    public Role roleOf(String user) {
      return members.get(user).getOrNull();
    }

    public boolean isMember(String user) {
      return members.containsKey(user);
    }

    /** The state after {@code event}, which becomes item {@code lastSeq + 1}. */
    public State apply(GroupEvent event) {
      long seq = lastSeq + 1;
      State next =
          new State(groupId, created, title, seq, members, periods, recent.add(new StreamItem.Group(groupId, seq, event)), dedup, outbox);
      return next.applied(event, seq);
    }

    private State applied(GroupEvent event, long seq) {
      switch (event.getEventCase()) {
        case CREATED -> {
          GroupCreated c = event.getCreated();
          List<String> joined = new ArrayList<>(List.of(c.getOwner()));
          joined.addAll(c.getMembersList());
          State s = new State(groupId, true, c.getTitle(), seq, members.put(c.getOwner(), Role.OWNER), periods, recent, dedup, outbox);
          return s.joined(joined, c.getOwner(), seq);
        }
        case MEMBERS_ADDED -> {
          return joined(event.getMembersAdded().getMembersList(), event.getMembersAdded().getActor(), seq);
        }
        case MEMBERS_REMOVED, MEMBER_LEFT -> {
          MembersChanged c =
              event.getEventCase() == GroupEvent.EventCase.MEMBERS_REMOVED ? event.getMembersRemoved() : event.getMemberLeft();
          MembershipPeriods p = periods;
          for (String u : c.getMembersList()) {
            p = p.left(u, seq);
          }
          return new State(
              groupId, created, title, seq, members.removeAll(c.getMembersList()), p, recent, dedup,
              notify(c.getMembersList(), false, c.getActor(), seq));
        }
        case ROLE_CHANGED -> {
          RoleChanged c = event.getRoleChanged();
          LinkedHashMap<String, Role> m = members;
          if (c.getRole() == Role.OWNER) {
            m = m.mapValues(r -> r == Role.OWNER ? Role.ADMIN : r); // one owner: the group is handed over
          }
          return new State(groupId, created, title, seq, m.put(c.getMember(), c.getRole()), periods, recent, dedup, outbox);
        }
        case POSTED -> {
          Posted p = event.getPosted();
          Reply.Accepted accepted =
              new Reply.Accepted(p.getClientMsgId(), Ids.groupStream(groupId), seq, p.getMsgId(), event.getTs());
          return new State(
              groupId, created, title, seq, members, periods, recent, dedup.remember(p.getFrom(), accepted, event.getTs()), outbox);
        }
        default -> throw new IllegalArgumentException("unknown group event " + event.getEventCase());
      }
    }

    /** {@code users} join as members at {@code seq} (a user listed twice joins once). */
    private State joined(List<String> users, String actor, long seq) {
      LinkedHashMap<String, Role> m = members;
      MembershipPeriods p = periods;
      for (String u : users) {
        m = m.containsKey(u) ? m : m.put(u, Role.MEMBER);
        p = p.joined(u, seq);
      }
      return new State(groupId, created, title, seq, m, p, recent, dedup, notify(new LinkedHashSet<>(users), true, actor, seq));
    }

    private Outbox<Notice> notify(Iterable<String> users, boolean member, String actor, long seq) {
      Outbox<Notice> o = outbox;
      for (String u : users) {
        o = o.add(u, o.nextCounter(u), seq, new Notice(member, actor));
      }
      return o;
    }

    public State pruneOutbox(Map<String, Long> acked) {
      Outbox<Notice> pruned = outbox.prune(acked);
      return pruned == outbox ? this : new State(groupId, created, title, lastSeq, members, periods, recent, dedup, pruned);
    }
  }

  // ------------------------------------------------------------------ wiring

  public static void init(ClusterSharding sharding, RouterSettings settings) {
    sharding.init(
        Entity.of(ENTITY_TYPE_KEY, ctx -> create(ctx.getEntityId(), settings, sharding, ctx.getShard()))
            .withStopMessage(Stop.INSTANCE));
  }

  public static PersistenceId persistenceId(String groupId) {
    return PersistenceId.of(ENTITY_TYPE_KEY.name(), groupId);
  }

  /** @param shard where to ask for passivation; null when not run under sharding (unit tests) */
  public static Behavior<Command> create(
      String groupId, RouterSettings settings, ClusterSharding sharding, ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.withTimers(
        timers ->
            Behaviors.setup(
                ctx -> {
                  timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.entity().transferRetry());
                  return new Logic(groupId, settings, sharding, shard, ctx, Clock.systemUTC());
                }));
  }

  private static final class Logic extends EventSourcedBehavior<Command, GroupEvent, State> {
    private final String groupId;
    private final RouterSettings settings;
    private final ClusterSharding sharding;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private final ActorContext<Command> ctx;
    private final Clock clock;
    private final ActorRef<TransferAck> ackRef;
    private final AckTracker acks;

    // Outside the journal on purpose: watching gateways are live subscriptions, the buffer holds
    // commands not yet written.
    private final Set<ActorRef<Feed>> gateways = new HashSet<>();
    private final BatchedWrites<Command, State, GroupEvent> writes;
    // never stored: coalesces each member's typing to one notice per window (router.limits)
    private final TypingWindow typingWindow;
    private long lastActivity;

    Logic(
        String groupId,
        RouterSettings settings,
        ClusterSharding sharding,
        ActorRef<ClusterSharding.ShardCommand> shard,
        ActorContext<Command> ctx,
        Clock clock) {
      super(
          GroupEntity.persistenceId(groupId),
          EntityRestarts.backoff(settings.entity().transferRetry()));
      this.groupId = groupId;
      this.settings = settings;
      this.sharding = sharding;
      this.shard = shard;
      this.ctx = ctx;
      this.clock = clock;
      this.ackRef = ctx.messageAdapter(TransferAck.class, NoticeAcked::new);
      this.acks = new AckTracker(clock, settings.entity().transferRetry().toMillis());
      this.writes = new BatchedWrites<>(settings.entity(), () -> ctx.getSelf().tell(Flush.INSTANCE), ctx.getSystem(), "group");
      this.lastActivity = clock.millis();
      this.typingWindow = new TypingWindow(settings.limits().typingWindow(), clock);
    }

    @Override
    public State emptyState() {
      return State.empty(groupId, settings.entity());
    }

    @Override
    public CommandHandler<Command, GroupEvent, State> commandHandler() {
      return (state, command) -> handle(state, command);
    }

    @Override
    public EventHandler<State, GroupEvent> eventHandler() {
      return (state, event) -> state.apply(event).pruneOutbox(acks.acked());
    }

    @Override
    public SignalHandler<State> signalHandler() {
      // everything still in the outbox goes again: acks are not journalled (Outbox)
      return writes
          .signals(newSignalHandlerBuilder(), state -> acks.resendAll(state.outbox(), (user, after) -> resend(state, user, after)))
          .build();
    }

    @Override
    public RetentionCriteria retentionCriteria() {
      return RetentionCriteria.snapshotEvery(settings.entity().snapshotEvery(), settings.entity().keepSnapshots());
    }

    @Override
    public SnapshotAdapter<State> snapshotAdapter() {
      return new GroupSnapshots(groupId, settings.entity());
    }

    private Effect<GroupEvent, State> handle(State state, Command command) {
      if (command != Tick.INSTANCE) {
        lastActivity = clock.millis();
      }
      if (command instanceof Create
          || command instanceof AddMembers
          || command instanceof RemoveMembers
          || command instanceof SetRole
          || command instanceof Leave
          || command instanceof Post) {
        writes.add(command);
        return Effect().none();
      }
      if (command == Flush.INSTANCE) {
        return flush(state);
      }
      if (command instanceof Sync sync) {
        sync.replyTo().tell(sync(state, sync));
        return Effect().none();
      }
      if (command instanceof TypingFrom typing) {
        // coalesced here, before the fan-out, so a burst never queues ahead of items at gateways
        if (state.isMember(typing.from()) && typingWindow.pass(typing.from())) {
          FeedTyping feed = new FeedTyping(groupId, typing.from());
          gateways.forEach(g -> g.tell(feed));
        }
        return Effect().none();
      }
      if (command instanceof Describe d) {
        Map<String, Role> members = new java.util.LinkedHashMap<>();
        state.members().forEach(members::put);
        d.replyTo().tell(new Description(groupId, state.created(), state.lastSeq(), state.title(), members, gateways.size()));
        return Effect().none();
      }
      if (command instanceof GetInfo info) {
        info.replyTo().tell(new Info(groupId, state.created(), state.lastSeq(), state.roleOf(info.user())));
        return Effect().none();
      }
      if (command instanceof Watch watch) {
        if (gateways.add(watch.gateway())) {
          ctx.watchWith(watch.gateway(), new GatewayGone(watch.gateway()));
        }
        Set<String> members = new LinkedHashSet<>();
        for (String u : watch.users()) {
          if (state.isMember(u)) {
            members.add(u);
          }
        }
        watch.gateway().tell(new Watching(groupId, ctx.getSelf(), state.lastSeq(), Set.copyOf(watch.users()), members));
        return Effect().none();
      }
      if (command instanceof Unwatch unwatch) {
        gateways.remove(unwatch.gateway());
        ctx.unwatch(unwatch.gateway());
        return Effect().none();
      }
      if (command instanceof GatewayGone gone) {
        gateways.remove(gone.gateway());
        return Effect().none();
      }
      if (command instanceof NoticeAcked na) {
        long resendAfter = acks.onAck(na.ack());
        if (resendAfter >= 0) {
          resend(state, na.ack().receiver(), resendAfter);
        }
        return Effect().none();
      }
      if (command == Tick.INSTANCE) {
        acks.resendStalled(state.outbox(), (user, after) -> resend(state, user, after));
        boolean idle = clock.millis() - lastActivity > settings.entity().passivateIdle().toMillis();
        // Acks are not events, so the state's outbox is only pruned when the next event is
        // applied: after a last membership change it keeps notices that are long delivered.
        // Those must not keep an idle group in memory (a recovery resends them harmlessly).
        boolean allDelivered = state.pruneOutbox(acks.acked()).outbox().isEmpty();
        if (shard != null && idle && gateways.isEmpty() && writes.isEmpty() && allDelivered) {
          shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
        }
        return Effect().none();
      }
      if (command == Stop.INSTANCE) {
        if (!writes.isEmpty()) {
          // commands taken in but not written yet: the pending flush writes and answers them,
          // then this stop comes round again (sharding sends nothing new to a stopping entity)
          ctx.getSelf().tell(Stop.INSTANCE);
          return Effect().none();
        }
        return Effect().stop();
      }
      throw new IllegalArgumentException("unhandled " + command);
    }

    // ---------------------------------------------------------------- batch write

    private Effect<GroupEvent, State> flush(State state) {
      return writes.flush(state, this::decide, Effect());
    }

    private void decide(Batch<State, GroupEvent> batch, Command command) {
      if (command instanceof Create c) {
        decideCreate(batch, c);
      } else if (command instanceof AddMembers a) {
        decideAdd(batch, a);
      } else if (command instanceof RemoveMembers r) {
        decideRemove(batch, r);
      } else if (command instanceof SetRole r) {
        decideSetRole(batch, r);
      } else if (command instanceof Leave l) {
        decideLeave(batch, l);
      } else if (command instanceof Post p) {
        decidePost(batch, p);
      }
    }

    private static void reject(Batch<State, GroupEvent> batch, ActorRef<Reply> to, ErrorCode code, String message) {
      batch.then(() -> to.tell(Reply.reject(code, message)));
    }

    private void decideCreate(Batch<State, GroupEvent> batch, Create create) {
      State state = batch.state();
      if (state.created()) {
        reject(batch, create.replyTo(), ErrorCode.ALREADY_EXISTS, "group " + groupId + " exists");
        return;
      }
      Set<String> members = new LinkedHashSet<>(create.members());
      members.remove(create.actor());
      if (!members.stream().allMatch(Ids::isValid)) {
        reject(batch, create.replyTo(), ErrorCode.BAD_FRAME, "invalid member id");
        return;
      }
      if (members.size() + 1 > settings.limits().groupSize()) {
        reject(batch, create.replyTo(), ErrorCode.TOO_LARGE, "a group has at most " + settings.limits().groupSize() + " members");
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setCreated(GroupCreated.newBuilder().setOwner(create.actor()).setTitle(create.title()).addAllMembers(members))
              .build();
      persistChange(batch, event, create.replyTo());
    }

    /**
     * Only owners and admins change membership, and system actors: those reach the entity only
     * through the ingress, which has checked that their backend may manage this group. A
     * rejection is queued when the actor may not; else the actor's role (OWNER for a system actor).
     */
    private Role manager(Batch<State, GroupEvent> batch, String actor, ActorRef<Reply> replyTo) {
      State state = batch.state();
      if (!state.created()) {
        reject(batch, replyTo, ErrorCode.NOT_FOUND, "no group " + groupId);
        return null;
      }
      if (Ids.isSystem(actor)) {
        return Role.OWNER;
      }
      Role role = state.roleOf(actor);
      if (role == null) {
        reject(batch, replyTo, ErrorCode.NOT_A_MEMBER, "not a member of group " + groupId);
        return null;
      }
      if (role != Role.OWNER && role != Role.ADMIN) {
        reject(batch, replyTo, ErrorCode.FORBIDDEN, "only owners and admins change membership");
        return null;
      }
      return role;
    }

    private void decideAdd(Batch<State, GroupEvent> batch, AddMembers add) {
      if (manager(batch, add.actor(), add.replyTo()) == null) {
        return;
      }
      State state = batch.state();
      if (!add.members().stream().allMatch(Ids::isValid)) {
        reject(batch, add.replyTo(), ErrorCode.BAD_FRAME, "invalid member id");
        return;
      }
      List<String> added = add.members().stream().distinct().filter(u -> !state.isMember(u)).toList();
      if (state.members().size() + added.size() > settings.limits().groupSize()) {
        reject(batch, add.replyTo(), ErrorCode.TOO_LARGE, "a group has at most " + settings.limits().groupSize() + " members");
        return;
      }
      if (added.isEmpty()) {
        batch.then(() -> add.replyTo().tell(new Reply.Done()));
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setMembersAdded(MembersChanged.newBuilder().setActor(add.actor()).addAllMembers(added))
              .build();
      persistChange(batch, event, add.replyTo());
    }

    private void decideRemove(Batch<State, GroupEvent> batch, RemoveMembers remove) {
      Role actorRole = manager(batch, remove.actor(), remove.replyTo());
      if (actorRole == null) {
        return;
      }
      State state = batch.state();
      List<String> removed = remove.members().stream().distinct().filter(state::isMember).toList();
      if (removed.stream().anyMatch(u -> state.roleOf(u) == Role.OWNER)) {
        reject(batch, remove.replyTo(), ErrorCode.FORBIDDEN, "the owner cannot be removed");
        return;
      }
      if (actorRole != Role.OWNER && removed.stream().anyMatch(u -> state.roleOf(u) == Role.ADMIN && !u.equals(remove.actor()))) {
        reject(batch, remove.replyTo(), ErrorCode.FORBIDDEN, "only the owner removes admins");
        return;
      }
      if (removed.isEmpty()) {
        batch.then(() -> remove.replyTo().tell(new Reply.Done()));
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setMembersRemoved(MembersChanged.newBuilder().setActor(remove.actor()).addAllMembers(removed))
              .build();
      persistChange(batch, event, remove.replyTo());
    }

    private void decideSetRole(Batch<State, GroupEvent> batch, SetRole set) {
      State state = batch.state();
      if (!state.created()) {
        reject(batch, set.replyTo(), ErrorCode.NOT_FOUND, "no group " + groupId);
        return;
      }
      if (!Ids.isSystem(set.actor()) && state.roleOf(set.actor()) != Role.OWNER) {
        reject(batch, set.replyTo(), state.isMember(set.actor()) ? ErrorCode.FORBIDDEN : ErrorCode.NOT_A_MEMBER,
            state.isMember(set.actor()) ? "only the owner changes roles" : "not a member of group " + groupId);
        return;
      }
      if (set.role() != Role.MEMBER && set.role() != Role.ADMIN && set.role() != Role.OWNER) {
        reject(batch, set.replyTo(), ErrorCode.BAD_FRAME, "role must be MEMBER, ADMIN or OWNER");
        return;
      }
      Role current = state.roleOf(set.member());
      if (current == null) {
        reject(batch, set.replyTo(), ErrorCode.NOT_A_MEMBER, set.member() + " is not a member of group " + groupId);
        return;
      }
      if (current == set.role()) {
        batch.then(() -> set.replyTo().tell(new Reply.Done()));
        return;
      }
      if (current == Role.OWNER) {
        reject(batch, set.replyTo(), ErrorCode.FORBIDDEN, "the owner's role changes only by handing the group to another member");
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setRoleChanged(RoleChanged.newBuilder().setActor(set.actor()).setMember(set.member()).setRole(set.role()))
              .build();
      persistChange(batch, event, set.replyTo());
    }

    private void decideLeave(Batch<State, GroupEvent> batch, Leave leave) {
      State state = batch.state();
      if (!state.created()) {
        reject(batch, leave.replyTo(), ErrorCode.NOT_FOUND, "no group " + groupId);
        return;
      }
      Role role = state.roleOf(leave.actor());
      if (role == null) {
        reject(batch, leave.replyTo(), ErrorCode.NOT_A_MEMBER, "not a member of group " + groupId);
        return;
      }
      if (role == Role.OWNER && state.members().size() > 1) {
        reject(batch, leave.replyTo(), ErrorCode.FORBIDDEN, "the owner cannot leave while the group has members");
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setMemberLeft(MembersChanged.newBuilder().setActor(leave.actor()).addMembers(leave.actor()))
              .build();
      persistChange(batch, event, leave.replyTo());
    }

    private void persistChange(Batch<State, GroupEvent> batch, GroupEvent event, ActorRef<Reply> replyTo) {
      State before = batch.state();
      State after = before.apply(event);
      batch.persist(event, after);
      long seq = after.lastSeq();
      batch.then(
          () -> {
            replyTo.tell(new Reply.Done());
            fanOut(new StreamItem.Group(groupId, seq, event));
            after.outbox().pending().forEach((user, queue) ->
                queue.filter(p -> p.seq() == seq).forEach(p -> {
                  acks.sent(user, p.counter());
                  notice(user, p);
                }));
          });
    }

    private void decidePost(Batch<State, GroupEvent> batch, Post post) {
      State state = batch.state();
      if (!state.created()) {
        reject(batch, post.replyTo(), ErrorCode.NOT_FOUND, "no group " + groupId);
        return;
      }
      if (!state.isMember(post.from()) && !Ids.isSystem(post.from())) {
        reject(batch, post.replyTo(), ErrorCode.NOT_A_MEMBER, "not a member of group " + groupId);
        return;
      }
      var earlier = state.dedup().find(post.from(), post.clientMsgId());
      if (earlier.isDefined()) {
        batch.then(() -> post.replyTo().tell(earlier.get()));
        return;
      }
      GroupEvent event =
          GroupEvent.newBuilder()
              .setTs(clock.millis())
              .setPosted(
                  Posted.newBuilder()
                      .setMsgId(UUID.randomUUID().toString())
                      .setFrom(post.from())
                      .setClientMsgId(post.clientMsgId())
                      .setContentType(post.contentType())
                      .setText(post.text())
                      .setPayload(ByteString.copyFrom(post.payload())))
              .build();
      State after = state.apply(event);
      batch.persist(event, after);
      long seq = after.lastSeq();
      batch.then(
          () -> {
            post.replyTo()
                .tell(new Reply.Accepted(post.clientMsgId(), Ids.groupStream(groupId), seq, event.getPosted().getMsgId(), event.getTs()));
            fanOut(new StreamItem.Group(groupId, seq, event));
          });
    }

    // ---------------------------------------------------------------- delivery

    private void fanOut(StreamItem.Group item) {
      FeedItem feed = new FeedItem(item);
      RouterMetrics.fanOut(gateways.size());
      gateways.forEach(g -> g.tell(feed));
    }

    private void notice(String user, Outbox.Pending<Notice> p) {
      sharding
          .entityRefFor(UserEntity.ENTITY_TYPE_KEY, user)
          .tell(new UserEntity.MembershipNotice(groupId, p.counter(), p.item().member(), p.item().actor(), ackRef));
    }

    private void resend(State state, String user, long after) {
      state.outbox().unacked(user, after).forEach(p -> notice(user, p));
    }

    private Reply sync(State state, Sync sync) {
      if (!state.created()) {
        return Reply.reject(ErrorCode.NOT_FOUND, "no group " + groupId);
      }
      if (!state.isMember(sync.user()) && !Ids.isSystem(sync.user())) {
        return Reply.reject(ErrorCode.NOT_A_MEMBER, "not a member of group " + groupId);
      }
      // internal readers (system actors: the ingress after its may-read check, gateways) see all
      List<SeqRange> hidden =
          Ids.isSystem(sync.user()) ? List.of() : state.periods().hidden(sync.user(), settings.entity().historyBeforeJoin());
      return StreamPages.answer(
          Ids.groupStream(groupId), groupId, GroupEntity.persistenceId(groupId).id(), state.recent(), state.lastSeq(),
          sync.afterSeq(), sync.limit(), hidden);
    }
  }


  private GroupEntity() {}
}
