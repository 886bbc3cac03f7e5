package org.imrouter.node.user;

import com.google.protobuf.ByteString;
import io.vavr.collection.HashMap;
import io.vavr.collection.TreeSet;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.Effect;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.AckTracker;
import org.imrouter.node.stream.Batch;
import org.imrouter.node.stream.BatchedWrites;
import org.imrouter.node.stream.ClusterMessage;
import org.imrouter.node.stream.DedupWindow;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.EntityRestarts;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.Push;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.Request;
import org.imrouter.node.stream.Sized;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.StreamPages;
import org.imrouter.node.stream.TransferAck;
import org.imrouter.node.stream.TypingWindow;
import org.imrouter.protocol.persist.DirectReceived;
import org.imrouter.protocol.persist.DirectSent;
import org.imrouter.protocol.persist.GroupMembership;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.ReadMoved;

/**
 * A user: owns the user's inbox stream and knows the user's connected sessions.
 *
 * <p>Commands become events like this. {@link SendDirect} persists {@code sent} (the sender's
 * copy) and transfers it to the recipient's entity, which persists {@code received}; the
 * transfer is at-least-once with a counter per (sender, recipient) pair, so the recipient stores
 * each message exactly once and in order (see {@link Outbox}). {@link MembershipNotice} from a
 * group persists {@code membership}; {@link MarkRead} persists {@code read}. Every event is one
 * inbox item and its persistence sequence number is the item's seq, so the stream is gap-free by
 * construction and equal across restarts.
 *
 * <p>Writes are batched: commands that arrive while a write is in flight are buffered and go
 * out together as one journal write, each still getting its own seq and reply. That is what lets
 * a busy inbox go past one write round-trip per message.
 */
public final class UserEntity {

  public static final EntityTypeKey<Command> ENTITY_TYPE_KEY = EntityTypeKey.create(Command.class, "User");

  // ------------------------------------------------------------------ commands

  /** Everything a user entity handles. */
  public interface Command extends ClusterMessage {}

  /**
   * A message from this user to {@code to} ("user:X"). Replies {@link Reply.Accepted} once the
   * sender's copy is durable (the original acceptance again for a repeated clientMsgId), or a
   * {@link Reply.Rejection}.
   */
  public record SendDirect(
      String clientMsgId, String to, String contentType, String text, byte[] payload, ActorRef<Reply> replyTo)
      implements Command, Sized, Request {
    @Override
    public int contentBytes() {
      return Sized.message(contentType, text, payload);
    }
  }

  /** A direct message transferred from user {@code from}'s outbox; acked on {@code ackTo}. */
  public record Deliver(
      String from,
      long counter,
      String msgId,
      long ts,
      String contentType,
      String text,
      byte[] payload,
      ActorRef<TransferAck> ackTo)
      implements Command, Sized {
    @Override
    public int contentBytes() {
      return Sized.message(contentType, text, payload);
    }
  }

  /** Group {@code groupId} added ({@code member}) or removed this user; acked on {@code ackTo}. */
  public record MembershipNotice(
      String groupId, long counter, boolean member, String actor, ActorRef<TransferAck> ackTo)
      implements Command {}

  /** Moves the read cursor of {@code stream} to {@code seq}. Replies {@link Reply.Done} or a rejection. */
  public record MarkRead(String stream, long seq, ActorRef<Reply> replyTo) implements Command, Request {}

  /** Inbox items after {@code afterSeq}: {@link Reply.HistoryPage} or {@link Reply.HistoryInJournal}. */
  public record Sync(long afterSeq, int limit, ActorRef<Reply> replyTo) implements Command {}

  /** A session of this user comes online; it gets every new inbox item until it disconnects. */
  public record Connect(ActorRef<Push> session, ActorRef<ConnectResult> replyTo) implements Command {}

  public record Disconnect(ActorRef<Push> session) implements Command {}

  /**
   * A message published by a backend as {@code from} ("system:<name>"), straight into this inbox.
   * {@code idempotencyKey} makes retries return the original {@link Reply.Accepted}.
   */
  public record SystemMessage(
      String from, String idempotencyKey, String contentType, String text, byte[] payload, ActorRef<Reply> replyTo)
      implements Command, Sized, Request {
    @Override
    public int contentBytes() {
      return Sized.message(contentType, text, payload);
    }
  }

  /**
   * A backend subscription follows this inbox: like a session it gets every new item, but it is
   * not a device (no connection limit). Replies {@link Following}.
   */
  public record Follow(ActorRef<Push> subscriber, ActorRef<Following> replyTo) implements Command {}

  /** The inbox's last seq when the follower was added, and the entity to watch (it may move). */
  public record Following(long lastSeq, ActorRef<Command> entity) implements ClusterMessage {}

  /** Replies the inbox's last seq. */
  public record GetLastSeq(ActorRef<Long> replyTo) implements Command {}

  /**
   * Ephemeral: this user is typing to user {@code to}. Passed on as {@link TypingFrom} only when
   * the two have a conversation (one has sent the other a message) and not more than once per
   * typing window; otherwise dropped without an answer. Never stored.
   */
  public record TypingTo(String to) implements Command {}

  /**
   * Ephemeral: {@code from} is typing to this user, as checked and coalesced by {@code from}'s
   * entity ({@link TypingTo}); pushed to the sessions, never stored.
   */
  public record TypingFrom(String from) implements Command {}

  /** The recipient of one of our transfers confirms what it has stored. */
  public record TransferAcked(TransferAck ack) implements Command {}

  private record SessionGone(ActorRef<Push> session) implements Command {}

  /** Sharding's hand-off stop: the entity stops after what it is writing. */
  public enum Stop implements Command {
    INSTANCE
  }

  /** Writes what was buffered while the previous write was in flight. */
  private enum Flush implements Command {
    INSTANCE
  }

  /** Periodic: resends unconfirmed transfers and passivates an idle entity without sessions. */
  private enum Tick implements Command {
    INSTANCE
  }

  // ------------------------------------------------------------------ replies

  /** Answer to {@link Connect}. */
  public sealed interface ConnectResult extends ClusterMessage {}

  /** The session is registered; what a welcome needs. */
  public record Connected(
      ActorRef<Command> entity, long lastSeq, Map<String, Long> cursors, List<String> groups)
      implements ConnectResult {}

  /** The user has too many connections. */
  public record Refused(ErrorCode code, String message) implements ConnectResult {}

  // ------------------------------------------------------------------ state

  /**
   * The inbox as of the last event: immutable; every method returns a new state.
   *
   * @param received per source ("user:X" / "group:G") the highest transfer counter stored
   * @param cursors per stream the read cursor
   */
  public record State(
      String userId,
      long lastSeq,
      RecentItems recent,
      DedupWindow dedup,
      Outbox<InboxEvent> outbox,
      HashMap<String, Long> received,
      TreeSet<String> groups,
      HashMap<String, Long> cursors) {

    public static State empty(String userId, RouterSettings.EntitySettings settings) {
      return new State(
          userId,
          0,
          RecentItems.empty(settings.recentItems()),
          DedupWindow.empty(settings),
          Outbox.empty(),
          HashMap.empty(),
          TreeSet.empty(),
          HashMap.empty());
    }

    public long receivedFrom(String source) {
      return received.get(source).getOrElse(0L);
    }

    public long cursor(String stream) {
      return cursors.get(stream).getOrElse(0L);
    }

    /**
     * Whether this user and {@code other} have a conversation: this user sent them a message (a
     * counter of the outbox) or received one from them (a transfer counter of the inbox).
     */
    public boolean isPeer(String other) {
      return !other.equals(userId)
          && (outbox.next().containsKey(other) || received.containsKey(Ids.userConversation(other)));
    }

    /** The state after {@code event}, which becomes item {@code lastSeq + 1}. */
    public State apply(InboxEvent event) {
      long seq = lastSeq + 1;
      RecentItems nextRecent = recent.add(new StreamItem.Inbox(userId, seq, event));
      switch (event.getEventCase()) {
        case SENT -> {
          DirectSent sent = event.getSent();
          Reply.Accepted accepted =
              new Reply.Accepted(sent.getClientMsgId(), Ids.INBOX, seq, sent.getMsgId(), event.getTs());
          Outbox<InboxEvent> nextOutbox =
              sent.getCounter() > 0 ? outbox.add(sent.getPeer(), sent.getCounter(), seq, event) : outbox;
          return new State(
              userId,
              seq,
              nextRecent,
              dedup.remember(userId, accepted, event.getTs()),
              nextOutbox,
              received,
              groups,
              cursors);
        }
        case RECEIVED -> {
          DirectReceived in = event.getReceived();
          boolean transfer = in.getCounter() > 0;
          boolean published = !in.getIdempotencyKey().isEmpty();
          Reply.Accepted accepted =
              new Reply.Accepted(in.getIdempotencyKey(), Ids.INBOX, seq, in.getMsgId(), event.getTs());
          return new State(
              userId,
              seq,
              nextRecent,
              published ? dedup.remember(in.getPeer(), accepted, event.getTs()) : dedup,
              outbox,
              transfer ? received.put(Ids.userConversation(in.getPeer()), in.getCounter()) : received,
              groups,
              cursors);
        }
        case MEMBERSHIP -> {
          GroupMembership m = event.getMembership();
          return new State(
              userId,
              seq,
              nextRecent,
              dedup,
              outbox,
              received.put(Ids.groupStream(m.getGroupId()), m.getCounter()),
              m.getMember() ? groups.add(m.getGroupId()) : groups.remove(m.getGroupId()),
              cursors);
        }
        case READ -> {
          ReadMoved r = event.getRead();
          return new State(
              userId,
              seq,
              nextRecent,
              dedup,
              outbox,
              received,
              groups,
              cursors.put(r.getTarget(), Math.max(cursor(r.getTarget()), r.getReadSeq())));
        }
        default -> throw new IllegalArgumentException("unknown inbox event " + event.getEventCase());
      }
    }

    public State pruneOutbox(Map<String, Long> acked) {
      Outbox<InboxEvent> pruned = outbox.prune(acked);
      return pruned == outbox
          ? this
          : new State(userId, lastSeq, recent, dedup, pruned, received, groups, cursors);
    }
  }

  // ------------------------------------------------------------------ wiring

  /** Registers the entity with Cluster Sharding. */
  public static void init(ClusterSharding sharding, RouterSettings settings) {
    sharding.init(
        org.apache.pekko.cluster.sharding.typed.javadsl.Entity.of(
                ENTITY_TYPE_KEY, ctx -> create(ctx.getEntityId(), settings, sharding, ctx.getShard()))
            .withStopMessage(Stop.INSTANCE));
  }

  public static PersistenceId persistenceId(String userId) {
    return PersistenceId.of(ENTITY_TYPE_KEY.name(), userId);
  }

  /**
   * @param shard where to ask for passivation; null when not run under sharding (unit tests)
   */
  public static Behavior<Command> create(
      String userId,
      RouterSettings settings,
      ClusterSharding sharding,
      ActorRef<org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding.ShardCommand> shard) {
    return Behaviors.withTimers(
        timers ->
            Behaviors.setup(
                ctx -> new Logic(userId, settings, sharding, shard, ctx, timers, Clock.systemUTC())));
  }

  /** The event-sourced behavior plus what it keeps outside the journal (sessions, batch, acks). */
  private static final class Logic extends EventSourcedBehavior<Command, InboxEvent, State> {
    private final String userId;
    private final RouterSettings settings;
    private final ClusterSharding sharding;
    private final ActorRef<ClusterSharding.ShardCommand> shard;
    private final ActorContext<Command> ctx;
    private final TimerScheduler<Command> timers;
    private final Clock clock;
    private final ActorRef<TransferAck> ackRef;

    // Not event-sourced on purpose: sessions are live connections, the buffer holds commands
    // not yet written, and acks only shrink the outbox (lost acks just mean a harmless resend).
    private final Set<ActorRef<Push>> sessions = new HashSet<>();
    private final Set<ActorRef<Push>> followers = new HashSet<>();
    private final BatchedWrites<Command, State, InboxEvent> writes;
    private final AckTracker acks;
    private final TypingWindow typingWindow;
    private long lastActivity;

    Logic(
        String userId,
        RouterSettings settings,
        ClusterSharding sharding,
        ActorRef<ClusterSharding.ShardCommand> shard,
        ActorContext<Command> ctx,
        TimerScheduler<Command> timers,
        Clock clock) {
      super(
          UserEntity.persistenceId(userId),
          EntityRestarts.backoff(settings.entity().transferRetry()));
      this.userId = userId;
      this.settings = settings;
      this.sharding = sharding;
      this.shard = shard;
      this.ctx = ctx;
      this.timers = timers;
      this.clock = clock;
      this.ackRef = ctx.messageAdapter(TransferAck.class, TransferAcked::new);
      this.acks = new AckTracker(clock, settings.entity().transferRetry().toMillis());
      this.writes = new BatchedWrites<>(settings.entity(), () -> ctx.getSelf().tell(Flush.INSTANCE), ctx.getSystem(), "user");
      this.lastActivity = clock.millis();
      this.typingWindow = new TypingWindow(settings.limits().typingWindow(), clock);
      timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.entity().transferRetry());
    }

    @Override
    public State emptyState() {
      return State.empty(userId, settings.entity());
    }

    @Override
    public CommandHandler<Command, InboxEvent, State> commandHandler() {
      return (state, command) -> handle(state, command);
    }

    @Override
    public EventHandler<State, InboxEvent> eventHandler() {
      return (state, event) -> state.apply(event).pruneOutbox(acks.acked());
    }

    @Override
    public SignalHandler<State> signalHandler() {
      // everything still in the outbox goes again: acks are not journalled (Outbox)
      return writes
          .signals(newSignalHandlerBuilder(), state -> acks.resendAll(state.outbox(), (peer, after) -> resend(state, peer, after)))
          .build();
    }

    @Override
    public RetentionCriteria retentionCriteria() {
      return RetentionCriteria.snapshotEvery(settings.entity().snapshotEvery(), settings.entity().keepSnapshots());
    }

    @Override
    public org.apache.pekko.persistence.typed.SnapshotAdapter<State> snapshotAdapter() {
      return new UserSnapshots(userId, settings.entity());
    }

    private Effect<InboxEvent, State> handle(State state, Command command) {
      if (command != Tick.INSTANCE) {
        lastActivity = clock.millis();
      }
      if (command instanceof SendDirect
          || command instanceof SystemMessage
          || command instanceof Deliver
          || command instanceof MembershipNotice
          || command instanceof MarkRead) {
        writes.add(command);
        return Effect().none();
      }
      if (command == Flush.INSTANCE) {
        return flush(state);
      }
      if (command instanceof Sync sync) {
        sync.replyTo().tell(sync(state, sync.afterSeq(), sync.limit()));
        return Effect().none();
      }
      if (command instanceof Connect connect) {
        return connect(state, connect);
      }
      if (command instanceof Follow follow) {
        if (followers.add(follow.subscriber())) {
          ctx.watchWith(follow.subscriber(), new SessionGone(follow.subscriber()));
        }
        follow.replyTo().tell(new Following(state.lastSeq(), ctx.getSelf()));
        return Effect().none();
      }
      if (command instanceof GetLastSeq get) {
        get.replyTo().tell(state.lastSeq());
        return Effect().none();
      }
      if (command instanceof Disconnect disconnect) {
        sessions.remove(disconnect.session());
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
      if (command instanceof TypingTo typing) {
        // Dropped without an answer when the two have no conversation: typing is a best-effort
        // signal with no id to answer to, an error would cost every typing frame a round trip to
        // this entity, and a client typing into a new conversation races its own first message
        // (typing can overtake it), which must not show up as an error. Checked here, on the
        // sender's side, so a stranger's typing never even wakes the recipient's entity.
        if (state.isPeer(typing.to()) && typingWindow.pass(typing.to())) {
          sharding.entityRefFor(ENTITY_TYPE_KEY, typing.to()).tell(new TypingFrom(userId));
        }
        return Effect().none();
      }
      if (command instanceof TypingFrom typing) {
        push(new Push.Typing(typing.from(), Ids.userConversation(typing.from())));
        return Effect().none();
      }
      if (command instanceof SessionGone gone) {
        sessions.remove(gone.session());
        followers.remove(gone.session());
        return Effect().none();
      }
      if (command instanceof TransferAcked ta) {
        onAck(state, ta.ack());
        return Effect().none();
      }
      if (command == Tick.INSTANCE) {
        return tick(state);
      }
      throw new IllegalArgumentException("unhandled " + command);
    }

    // ---------------------------------------------------------------- batch write

    private Effect<InboxEvent, State> flush(State state) {
      return writes.flush(state, this::decide, Effect());
    }

    private void decide(Batch<State, InboxEvent> batch, Command command) {
      if (command instanceof SendDirect send) {
        decideSend(batch, send);
      } else if (command instanceof SystemMessage message) {
        decideSystemMessage(batch, message);
      } else if (command instanceof Deliver deliver) {
        decideDeliver(batch, deliver);
      } else if (command instanceof MembershipNotice notice) {
        decideNotice(batch, notice);
      } else if (command instanceof MarkRead read) {
        decideRead(batch, read);
      }
    }

    private void decideSend(Batch<State, InboxEvent> batch, SendDirect send) {
      State state = batch.state();
      if (!send.clientMsgId().isEmpty()) {
        var earlier = state.dedup().find(userId, send.clientMsgId());
        if (earlier.isDefined()) {
          batch.then(() -> send.replyTo().tell(earlier.get()));
          return;
        }
      }
      var target = Ids.parseTarget(send.to());
      if (target.isEmpty() || target.get().kind() != Ids.Address.Kind.USER) {
        batch.then(() -> send.replyTo().tell(Reply.reject(ErrorCode.BAD_FRAME, "'to' must be user:<id>")));
        return;
      }
      String peer = target.get().id();
      long counter = peer.equals(userId) ? 0 : state.outbox().nextCounter(peer);
      InboxEvent event =
          InboxEvent.newBuilder()
              .setTs(clock.millis())
              .setSent(
                  DirectSent.newBuilder()
                      .setMsgId(UUID.randomUUID().toString())
                      .setClientMsgId(send.clientMsgId())
                      .setPeer(peer)
                      .setContentType(send.contentType())
                      .setText(send.text())
                      .setPayload(ByteString.copyFrom(send.payload()))
                      .setCounter(counter))
              .build();
      long seq = append(batch, event);
      batch.then(
          () -> {
            send.replyTo()
                .tell(new Reply.Accepted(send.clientMsgId(), Ids.INBOX, seq, event.getSent().getMsgId(), event.getTs()));
            if (counter > 0) {
              acks.sent(peer, counter);
              transfer(peer, counter, event);
            }
          });
    }

    private void decideSystemMessage(Batch<State, InboxEvent> batch, SystemMessage message) {
      State state = batch.state();
      var earlier = state.dedup().find(message.from(), message.idempotencyKey());
      if (earlier.isDefined()) {
        batch.then(() -> message.replyTo().tell(earlier.get()));
        return;
      }
      InboxEvent event =
          InboxEvent.newBuilder()
              .setTs(clock.millis())
              .setReceived(
                  DirectReceived.newBuilder()
                      .setMsgId(UUID.randomUUID().toString())
                      .setPeer(message.from())
                      .setContentType(message.contentType())
                      .setText(message.text())
                      .setPayload(ByteString.copyFrom(message.payload()))
                      .setIdempotencyKey(message.idempotencyKey()))
              .build();
      long seq = append(batch, event);
      batch.then(
          () -> message.replyTo()
              .tell(new Reply.Accepted(message.idempotencyKey(), Ids.INBOX, seq, event.getReceived().getMsgId(), event.getTs())));
    }

    private void decideDeliver(Batch<State, InboxEvent> batch, Deliver deliver) {
      if (!isNextTransfer(batch, Ids.userConversation(deliver.from()), deliver.counter(), deliver.ackTo())) {
        return;
      }
      InboxEvent event =
          InboxEvent.newBuilder()
              .setTs(deliver.ts())
              .setReceived(
                  DirectReceived.newBuilder()
                      .setMsgId(deliver.msgId())
                      .setPeer(deliver.from())
                      .setContentType(deliver.contentType())
                      .setText(deliver.text())
                      .setPayload(ByteString.copyFrom(deliver.payload()))
                      .setCounter(deliver.counter()))
              .build();
      append(batch, event);
      batch.then(() -> deliver.ackTo().tell(new TransferAck(userId, deliver.counter(), false)));
    }

    private void decideNotice(Batch<State, InboxEvent> batch, MembershipNotice notice) {
      if (!isNextTransfer(batch, Ids.groupStream(notice.groupId()), notice.counter(), notice.ackTo())) {
        return;
      }
      InboxEvent event =
          InboxEvent.newBuilder()
              .setTs(clock.millis())
              .setMembership(
                  GroupMembership.newBuilder()
                      .setGroupId(notice.groupId())
                      .setMember(notice.member())
                      .setActor(notice.actor())
                      .setCounter(notice.counter()))
              .build();
      append(batch, event);
      batch.then(() -> notice.ackTo().tell(new TransferAck(userId, notice.counter(), false)));
    }

    private void decideRead(Batch<State, InboxEvent> batch, MarkRead read) {
      State state = batch.state();
      var stream = Ids.parseStream(read.stream());
      if (stream.isEmpty() || read.seq() < 0) {
        batch.then(() -> read.replyTo().tell(Reply.reject(ErrorCode.BAD_FRAME, "unknown stream " + read.stream())));
        return;
      }
      if (stream.get().kind() == Ids.Address.Kind.GROUP && !state.groups().contains(stream.get().id())) {
        batch.then(() -> read.replyTo().tell(Reply.reject(ErrorCode.NOT_A_MEMBER, "not a member of " + read.stream())));
        return;
      }
      if (stream.get().kind() == Ids.Address.Kind.INBOX && read.seq() > state.lastSeq()) {
        batch.then(() -> read.replyTo().tell(Reply.reject(ErrorCode.BAD_FRAME, "seq is past the end of the inbox")));
        return;
      }
      if (read.seq() <= state.cursor(read.stream())) {
        batch.then(() -> read.replyTo().tell(new Reply.Done())); // cursors never move backwards
        return;
      }
      InboxEvent event =
          InboxEvent.newBuilder()
              .setTs(clock.millis())
              .setRead(ReadMoved.newBuilder().setTarget(read.stream()).setReadSeq(read.seq()))
              .build();
      append(batch, event);
      batch.then(() -> read.replyTo().tell(new Reply.Done()));
    }

    /** Writes {@code event} as the next inbox item, pushed to the sessions once written; its seq. */
    private long append(Batch<State, InboxEvent> batch, InboxEvent event) {
      State after = batch.state().apply(event);
      batch.persist(event, after);
      long seq = after.lastSeq();
      batch.then(() -> push(new StreamItem.Inbox(userId, seq, event)));
      return seq;
    }

    /**
     * True when {@code counter} is the next transfer from {@code source}. Otherwise it is a resend
     * of something stored or ahead of a gap: either way the sender hears what is stored.
     */
    private boolean isNextTransfer(Batch<State, InboxEvent> batch, String source, long counter, ActorRef<TransferAck> ackTo) {
      long stored = batch.state().receivedFrom(source);
      if (counter == stored + 1) {
        return true;
      }
      boolean behind = counter > stored + 1;
      batch.then(() -> ackTo.tell(new TransferAck(userId, stored, behind)));
      return false;
    }

    // ---------------------------------------------------------------- transfers

    private void transfer(String peer, long counter, InboxEvent event) {
      DirectSent sent = event.getSent();
      sharding
          .entityRefFor(ENTITY_TYPE_KEY, peer)
          .tell(
              new Deliver(
                  userId,
                  counter,
                  sent.getMsgId(),
                  event.getTs(),
                  sent.getContentType(),
                  sent.getText(),
                  sent.getPayload().toByteArray(),
                  ackRef));
    }

    private void onAck(State state, TransferAck ack) {
      long resendAfter = acks.onAck(ack);
      if (resendAfter >= 0) {
        resend(state, ack.receiver(), resendAfter);
      }
    }

    private void resend(State state, String peer, long after) {
      state.outbox().unacked(peer, after).forEach(p -> transfer(peer, p.counter(), p.item()));
    }

    // ---------------------------------------------------------------- sessions and reads

    private Effect<InboxEvent, State> connect(State state, Connect connect) {
      if (!sessions.contains(connect.session()) && sessions.size() >= settings.limits().connectionsPerUser()) {
        connect.replyTo().tell(new Refused(ErrorCode.RATE_LIMITED, "too many connections for this user"));
        return Effect().none();
      }
      if (sessions.add(connect.session())) {
        ctx.watchWith(connect.session(), new SessionGone(connect.session()));
      }
      Map<String, Long> cursors = new java.util.HashMap<>(state.cursors().toJavaMap());
      connect.replyTo().tell(new Connected(ctx.getSelf(), state.lastSeq(), cursors, state.groups().toJavaList()));
      return Effect().none();
    }

    private Reply sync(State state, long afterSeq, int limit) {
      return StreamPages.answer(
          Ids.INBOX, userId, UserEntity.persistenceId(userId).id(), state.recent(), state.lastSeq(), afterSeq, limit);
    }

    private void push(Push item) {
      sessions.forEach(s -> s.tell(item));
      followers.forEach(f -> f.tell(item));
    }

    private Effect<InboxEvent, State> tick(State state) {
      acks.resendStalled(state.outbox(), (peer, after) -> resend(state, peer, after));
      boolean idle = clock.millis() - lastActivity > settings.entity().passivateIdle().toMillis();
      // acks prune the outbox only when the next event is applied: check what is really unconfirmed
      boolean allDelivered = state.pruneOutbox(acks.acked()).outbox().isEmpty();
      if (shard != null && idle && sessions.isEmpty() && followers.isEmpty() && writes.isEmpty() && allDelivered) {
        shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
      }
      return Effect().none();
    }
  }


  private UserEntity() {}
}
