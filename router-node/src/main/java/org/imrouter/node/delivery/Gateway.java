package org.imrouter.node.delivery;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Push;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.StreamPages;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.MembersChanged;

/**
 * One per node: holds the node's sessions and watches, on their behalf, every group that has an
 * online member here. A group sends each item once per watching gateway and the gateway delivers
 * it to the local sessions of members, so cross-node traffic per group message is O(nodes), not
 * O(members).
 *
 * <p>Membership here follows the group, never the client: a user receives a group's items only
 * after the group confirmed the membership ({@link GroupEntity.Watching} or a MEMBER_ADDED item),
 * and stops at the MEMBER_REMOVED / MEMBER_LEFT item, which the group sends before any later post.
 * Items carry their seq; the gateway never delivers an item of a group twice or out of order.
 */
public final class Gateway extends AbstractBehavior<Gateway.Command> {

  public interface Command {}

  /** A session of {@code userId} is online; {@code groups} are the groups its inbox lists. */
  public record Online(String userId, ActorRef<Push> session, Iterable<String> groups) implements Command {}

  public record Offline(ActorRef<Push> session) implements Command {}

  /**
   * The user's inbox says it joined {@code groupId}: start watching for it. {@code replyTo} hears
   * {@link JoinSettled} once the group has answered, so from then on its items reach the user live.
   */
  public record Joined(String userId, String groupId, ActorRef<JoinSettled> replyTo) implements Command {}

  /** Answer to {@link Joined}. */
  public record JoinSettled(String groupId) {}

  private record FromGroup(GroupEntity.Feed feed) implements Command {}

  private record GroupGone(String groupId) implements Command {}

  private record Rewatch(String groupId) implements Command {}

  private record SessionGone(ActorRef<Push> session) implements Command {}

  /** Items a group had written while this gateway was not watching it (it moved or restarted). */
  private record Filled(String groupId, List<StreamItem.Group> items, Throwable failure) implements Command {}

  public static Behavior<Command> create(
      ClusterSharding sharding, Duration rewatchDelay, HistoryReader history, Duration askTimeout, int fillLimit) {
    return Behaviors.setup(
        ctx -> Behaviors.withTimers(timers -> new Gateway(ctx, timers, sharding, rewatchDelay, history, askTimeout, fillLimit)));
  }

  /** The identity gap fills read groups as (trusted: ':' is outside the user id alphabet). */
  private static final String READER = Ids.SYSTEM_PREFIX + "gateway";

  private final ClusterSharding sharding;
  private final TimerScheduler<Command> timers;
  private final Duration rewatchDelay;
  private final ActorRef<GroupEntity.Feed> feed;

  private final Map<String, Set<ActorRef<Push>>> sessionsByUser = new HashMap<>();
  private final Map<ActorRef<Push>, String> userBySession = new HashMap<>();
  /** group → local users that want its items (their inbox lists the group) */
  private final Map<String, Set<String>> wanted = new HashMap<>();
  /** group → local users the group confirmed as members */
  private final Map<String, Set<String>> members = new HashMap<>();
  /** group → user → sessions waiting for {@link JoinSettled} */
  private final Map<String, Map<String, List<ActorRef<JoinSettled>>>> settling = new HashMap<>();
  /** group → highest seq delivered here */
  private final Map<String, Long> delivered = new HashMap<>();
  private final Map<String, ActorRef<GroupEntity.Command>> watching = new HashMap<>();
  /** groups with a gap fill in flight → live items that arrived meanwhile, delivered after it */
  private final Map<String, List<StreamItem.Group>> heldDuringFill = new HashMap<>();
  private final HistoryReader history;
  private final Duration askTimeout;
  private final int fillLimit;

  private Gateway(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      ClusterSharding sharding,
      Duration rewatchDelay,
      HistoryReader history,
      Duration askTimeout,
      int fillLimit) {
    super(ctx);
    this.history = history;
    this.askTimeout = askTimeout;
    this.fillLimit = fillLimit;
    this.sharding = sharding;
    this.timers = timers;
    this.rewatchDelay = rewatchDelay;
    this.feed = ctx.messageAdapter(GroupEntity.Feed.class, FromGroup::new);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Online.class, this::onOnline)
        .onMessage(Offline.class, o -> removeSession(o.session()))
        .onMessage(SessionGone.class, g -> removeSession(g.session()))
        .onMessage(Joined.class, this::onJoined)
        .onMessage(FromGroup.class, this::onFeed)
        .onMessage(GroupGone.class, this::onGroupGone)
        .onMessage(Filled.class, this::onFilled)
        .onMessage(Rewatch.class, r -> {
          if (wanted.containsKey(r.groupId())) {
            requestWatch(r.groupId(), wanted.get(r.groupId()));
          }
          return this;
        })
        .build();
  }

  private Behavior<Command> onOnline(Online online) {
    if (userBySession.put(online.session(), online.userId()) == null) {
      getContext().watchWith(online.session(), new SessionGone(online.session()));
    }
    sessionsByUser.computeIfAbsent(online.userId(), u -> new HashSet<>()).add(online.session());
    for (String groupId : online.groups()) {
      want(online.userId(), groupId);
    }
    return this;
  }

  private Behavior<Command> onJoined(Joined joined) {
    if (!sessionsByUser.containsKey(joined.userId()) || members.getOrDefault(joined.groupId(), Set.of()).contains(joined.userId())) {
      joined.replyTo().tell(new JoinSettled(joined.groupId()));
      return this;
    }
    settling.computeIfAbsent(joined.groupId(), g -> new HashMap<>())
        .computeIfAbsent(joined.userId(), u -> new ArrayList<>())
        .add(joined.replyTo());
    want(joined.userId(), joined.groupId());
    return this;
  }

  private void settle(String groupId, String userId) {
    Map<String, List<ActorRef<JoinSettled>>> byUser = settling.get(groupId);
    List<ActorRef<JoinSettled>> waiting = byUser == null ? null : byUser.remove(userId);
    if (waiting != null) {
      waiting.forEach(w -> w.tell(new JoinSettled(groupId)));
    }
  }

  private void want(String userId, String groupId) {
    boolean added = wanted.computeIfAbsent(groupId, g -> new HashSet<>()).add(userId);
    if (added && !members.getOrDefault(groupId, Set.of()).contains(userId)) {
      requestWatch(groupId, Set.of(userId));
    }
  }

  private void requestWatch(String groupId, Set<String> users) {
    sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId).tell(new GroupEntity.Watch(feed, Set.copyOf(users)));
  }

  private Behavior<Command> removeSession(ActorRef<Push> session) {
    String userId = userBySession.remove(session);
    if (userId == null) {
      return this;
    }
    Set<ActorRef<Push>> sessions = sessionsByUser.get(userId);
    sessions.remove(session);
    if (sessions.isEmpty()) {
      sessionsByUser.remove(userId);
      for (String groupId : Set.copyOf(wanted.keySet())) {
        Set<String> users = wanted.get(groupId);
        users.remove(userId);
        members.getOrDefault(groupId, new HashSet<>()).remove(userId);
        if (users.isEmpty()) {
          stopWatching(groupId);
        }
      }
    }
    return this;
  }

  private void stopWatching(String groupId) {
    Map<String, List<ActorRef<JoinSettled>>> waiting = settling.remove(groupId);
    if (waiting != null) {
      waiting.values().forEach(list -> list.forEach(w -> w.tell(new JoinSettled(groupId))));
    }
    wanted.remove(groupId);
    heldDuringFill.remove(groupId);
    members.remove(groupId);
    delivered.remove(groupId);
    ActorRef<GroupEntity.Command> group = watching.remove(groupId);
    if (group != null) {
      getContext().unwatch(group);
      group.tell(new GroupEntity.Unwatch(feed));
    }
  }

  private Behavior<Command> onFeed(FromGroup from) {
    GroupEntity.Feed f = from.feed();
    if (f instanceof GroupEntity.Watching w) {
      onWatching(w);
    } else if (f instanceof GroupEntity.FeedItem item) {
      onItem(item.item());
    } else if (f instanceof GroupEntity.FeedTyping typing) {
      Push.Typing push = new Push.Typing(typing.from(), Ids.groupStream(typing.groupId()));
      for (String user : members.getOrDefault(typing.groupId(), Set.of())) {
        if (!user.equals(typing.from())) {
          sessionsOf(user).forEach(s -> s.tell(push));
        }
      }
    }
    return this;
  }

  private void onWatching(GroupEntity.Watching w) {
    if (!wanted.containsKey(w.groupId())) {
      w.group().tell(new GroupEntity.Unwatch(feed)); // every local user left meanwhile
      return;
    }
    ActorRef<GroupEntity.Command> previous = watching.put(w.groupId(), w.group());
    if (previous == null || !previous.equals(w.group())) {
      getContext().watchWith(w.group(), new GroupGone(w.groupId()));
    }
    // The answer is authoritative for the users asked about: a removal whose item never reached
    // us (the group restarted in between) must still end delivery to that user.
    Set<String> confirmed = members.computeIfAbsent(w.groupId(), g -> new HashSet<>());
    for (String user : w.asked()) {
      if (w.members().contains(user) && wanted.get(w.groupId()).contains(user)) {
        confirmed.add(user);
      } else {
        confirmed.remove(user);
      }
      settle(w.groupId(), user);
    }
    Long seen = delivered.get(w.groupId());
    if (seen == null) {
      delivered.put(w.groupId(), w.lastSeq()); // a first watch: live from here, history is the client's sync
    } else if (w.lastSeq() > seen) {
      fill(w.groupId(), seen); // written while we were not watching (the group moved): fetch them
    }
  }

  private void onItem(StreamItem.Group item) {
    String groupId = item.groupId();
    List<StreamItem.Group> held = heldDuringFill.get(groupId);
    if (held != null) {
      held.add(item); // keeps order: delivered after the items being fetched
      return;
    }
    long seen = delivered.getOrDefault(groupId, 0L);
    if (item.seq() <= seen) {
      return; // already delivered (a re-watch overlapping the live feed)
    }
    if (seen > 0 && item.seq() > seen + 1) {
      heldDuringFill.put(groupId, new ArrayList<>(List.of(item)));
      fill(groupId, seen);
      return;
    }
    deliver(item);
  }

  /** Fetches the items after {@code after} that this gateway missed; live items wait meanwhile. */
  private void fill(String groupId, long after) {
    heldDuringFill.computeIfAbsent(groupId, g -> new ArrayList<>());
    CompletionStage<Reply> page =
        AskPattern.ask(
            sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId),
            replyTo -> new GroupEntity.Sync(READER, after, fillLimit, replyTo),
            askTimeout,
            getContext().getSystem().scheduler());
    CompletionStage<List<StreamItem.Group>> items = page.thenCompose(r -> itemsOf(groupId, r));
    getContext().pipeToSelf(items, (list, failure) -> new Filled(groupId, list, failure));
  }

  private CompletionStage<List<StreamItem.Group>> itemsOf(String groupId, Reply reply) {
    if (reply instanceof Reply.Rejection) {
      return CompletableFuture.completedFuture(List.of()); // the group is gone: nothing to fill
    }
    return StreamPages.resolve(reply, history)
        .thenApply(page -> page.items().stream().map(i -> (StreamItem.Group) i).toList());
  }

  private Behavior<Command> onFilled(Filled filled) {
    List<StreamItem.Group> held = heldDuringFill.remove(filled.groupId());
    if (held == null || !wanted.containsKey(filled.groupId())) {
      return this;
    }
    if (filled.failure() == null) {
      filled.items().forEach(this::onItem);
    }
    // a failed fill leaves the gap to the clients' sync (they see the seq jump)
    held.forEach(this::onItem);
    return this;
  }

  private void deliver(StreamItem.Group item) {
    String groupId = item.groupId();
    delivered.put(groupId, item.seq());
    Set<String> confirmed = members.computeIfAbsent(groupId, g -> new HashSet<>());
    GroupEvent event = item.event();
    switch (event.getEventCase()) {
      case CREATED -> addOnline(groupId, confirmed, event.getCreated().getMembersList());
      case MEMBERS_ADDED -> addOnline(groupId, confirmed, event.getMembersAdded().getMembersList());
      default -> {}
    }
    for (String user : confirmed) {
      sessionsOf(user).forEach(s -> s.tell(item));
    }
    MembersChanged gone =
        switch (event.getEventCase()) {
          case MEMBERS_REMOVED -> event.getMembersRemoved();
          case MEMBER_LEFT -> event.getMemberLeft();
          default -> null;
        };
    if (gone != null) {
      // the removed members saw their removal above; nothing after it reaches them
      for (String user : gone.getMembersList()) {
        confirmed.remove(user);
        Set<String> users = wanted.get(groupId);
        if (users != null) {
          users.remove(user);
        }
      }
      if (wanted.getOrDefault(groupId, Set.of()).isEmpty()) {
        stopWatching(groupId);
      }
    }
  }

  private void addOnline(String groupId, Set<String> confirmed, Iterable<String> users) {
    for (String user : users) {
      if (sessionsByUser.containsKey(user)) {
        confirmed.add(user);
        wanted.computeIfAbsent(groupId, g -> new HashSet<>()).add(user);
      }
    }
  }

  private Behavior<Command> onGroupGone(GroupGone gone) {
    watching.remove(gone.groupId());
    if (wanted.containsKey(gone.groupId())) {
      // the group moved or restarted: watch it again where it lives now
      timers.startSingleTimer(gone.groupId(), new Rewatch(gone.groupId()), rewatchDelay);
    }
    return this;
  }

  private Set<ActorRef<Push>> sessionsOf(String user) {
    return sessionsByUser.getOrDefault(user, Set.of());
  }
}
