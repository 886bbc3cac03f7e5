package org.imrouter.node.delivery;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.config.LimitedFrame;
import org.imrouter.node.cluster.MajorityFence;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.metrics.RouterMetrics;
import org.imrouter.node.stream.ContentBounds;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Push;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.node.stream.StorageHealth;
import org.imrouter.node.stream.StreamPages;
import org.imrouter.node.user.UserEntity;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Pong;
import org.imrouter.protocol.v1.Result;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.TypingNotice;
import org.imrouter.protocol.v1.Welcome;

/**
 * One per connected device: the edge where client frames become entity commands and entity
 * replies and pushes become server frames. Registers with the user's entity (inbox pushes) and
 * the node's {@link Gateway} (group pushes), and registers again by itself when the user's
 * entity moves or restarts. Holds no stream data: everything it sends is durable elsewhere. Lasts
 * until the token it connected with expires (closed with 4401), unless a refresh frame brings a
 * newer token of the same user first.
 */
public final class Session extends AbstractBehavior<Session.Command> {

  public interface Command {}

  /** One decoded client message; answer {@link Ack} to get the next (backpressure). */
  public record Incoming(ActorRef<Ack> ackTo, Command command) implements Command {}

  public enum Ack {
    INSTANCE
  }

  /** A parsed client frame; {@code binary} is the encoding it came in, and the one to answer in. */
  public record FromClient(ClientFrame frame, boolean binary) implements Command {}

  /** A client message that could not be parsed. */
  public record Unparseable(String reason, boolean binary) implements Command {}

  /** A client message over the frame size limit: the connection is closed (1009). */
  public enum Oversized implements Command {
    INSTANCE
  }

  /** The connection is gone. */
  public enum ClientGone implements Command {
    INSTANCE
  }

  /** The node is draining: tell the client to reconnect elsewhere. */
  public enum Drain implements Command {
    INSTANCE
  }

  private record Pushed(Push push) implements Command {}

  private record ConnectAnswer(UserEntity.ConnectResult result, Throwable failure) implements Command {}

  private record WelcomeReady(UserEntity.Connected connected, List<GroupEntity.Info> groups, Throwable failure)
      implements Command {}

  /** @param conversation the target of a send, null for other asks */
  private record Answered(Kind kind, String ref, String conversation, Reply reply, Throwable failure) implements Command {}

  /** A refused send the client must resend before any later send to its conversation goes out. */
  private record Hold(String ref, long untilNanos) {}

  /**
   * How long a conversation waits for the client to resend a refused send, in ask timeouts: a
   * client that honours UNAVAILABLE resends within a second or two; one that gave the send up
   * must not find its conversation refused for long.
   */
  private static final int HOLD_ASK_TIMEOUTS = 2;

  private static final String TOO_MANY_UNANSWERED =
      "too many sends on this connection wait for storage, resend this one once earlier ones are accepted";

  /** A send held back until the one before it to the same conversation is answered. */
  private record QueuedSend(String ref, Runnable dispatch) {}

  private record PageRead(String stream, StreamPages.Page page, Throwable failure) implements Command {}

  private record UserEntityGone() implements Command {}

  /** The gateway watches a group the user just joined (or gave up waiting): release held pushes. */
  private record JoinSettled(String groupId) implements Command {}

  private enum Reconnect implements Command {
    INSTANCE
  }

  /** Time to look whether the session's token has expired. */
  private enum TokenCheck implements Command {
    INSTANCE
  }

  private enum Kind {
    SEND,
    SYNC,
    READ,
    GROUP_OP
  }

  /** What the session writes to the connection. */
  public sealed interface Out {}

  public record OutFrame(ServerFrame frame, boolean binary) implements Out {}

  /** Close the connection with this WebSocket close code. */
  public record OutClose(int code, String reason) implements Out {}

  /** Close codes this server uses (RFC 6455 and the 4000–4999 application range). */
  public static final class CloseCodes {
    /**
     * Come back later, elsewhere if you can (the node drains, or storage is unavailable); the
     * reason ends with the suggested delay ({@link ReconnectBackoff}).
     */
    public static final int GOING_AWAY = 1001;
    public static final int POLICY_VIOLATION = 1008;
    public static final int TOO_BIG = 1009;
    /** The client did not read fast enough; reconnect and sync (nothing is lost). */
    public static final int SLOW_CONSUMER = 4008;
    /** Too many connections for this user. */
    public static final int TOO_MANY_CONNECTIONS = 4029;
    /**
     * The session's token expired (its exp plus router.jwt.leeway passed) and no refresh frame
     * brought a newer one: reconnect with a fresh token.
     */
    public static final int TOKEN_EXPIRED = 4401;

    private CloseCodes() {}
  }

  /** Everything a session needs from its node. */
  public record Deps(
      RouterSettings settings,
      ClusterSharding sharding,
      ActorRef<Gateway.Command> gateway,
      HistoryReader history,
      UserRateLimits rateLimits,
      JwtVerifier jwt,
      ReconnectBackoff reconnectBackoff) {}

  /** A session of {@code token}'s user, which lasts until the token expires unless refreshed. */
  public static Behavior<Command> create(
      JwtVerifier.ClientToken token, String sessionId, ActorRef<Out> out, Deps deps, boolean binary) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Session(ctx, timers, token, sessionId, out, deps, binary)));
  }

  private final TimerScheduler<Command> timers;
  private final String userId;
  private final String sessionId;
  private final ActorRef<Out> out;
  private final Deps deps;
  private final RouterSettings.Limits limits;
  private final Duration askTimeout;
  private final int maxUnansweredSends;
  private final StorageHealth storage;
  private final Duration resendAfter;
  private final BooleanSupplier resendNow;
  private final ActorRef<Push> pushRef;
  // built once: an entity ref URL-encodes its path prefix when constructed, and every send,
  // sync and read of the session asks this one entity
  private final EntityRef<UserEntity.Command> ownEntity;
  // shared with the user's other connections on this node
  private final UserRateLimits.Buckets rates;
  private final List<Push> beforeWelcome = new ArrayList<>();
  private final ActorRef<Gateway.JoinSettled> joinSettledRef;
  // After an ADDED_TO_GROUP item the session holds it, and everything after it, until the node
  // watches the group for this user: a client that sees ADDED_TO_GROUP gets every later item of
  // the group live (and the earlier ones with sync).
  private final List<Push> heldForJoin = new ArrayList<>();
  private String holdingFor;
  private boolean welcomed;
  // the client's first frame when it came before the welcome (at most one: it is not acked)
  private Incoming heldBeforeWelcome;
  private boolean binary;
  private boolean closed;
  // Per conversation with a send in flight, the later sends to it, not yet sent: one send per
  // conversation is in flight at a time (guarantee 3 through hand-offs and timeouts).
  private final Map<String, Deque<QueuedSend>> sendsWaiting = new HashMap<>();
  // Per conversation whose send was refused as possibly not stored, that send's clientMsgId
  // and until when: a later send to it is refused until the client resends that one (see
  // holdsBack).
  private final Map<String, Hold> holds = new HashMap<>();
  // when the token the session runs on stops being valid: set at connect, moved by a refresh
  private Instant tokenValidUntil;

  private Session(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      JwtVerifier.ClientToken token,
      String sessionId,
      ActorRef<Out> out,
      Deps deps,
      boolean binary) {
    super(ctx);
    this.timers = timers;
    this.userId = token.userId();
    this.tokenValidUntil = token.validUntil();
    this.sessionId = sessionId;
    this.out = out;
    this.deps = deps;
    this.binary = binary;
    this.limits = deps.settings().limits();
    this.askTimeout = deps.settings().session().askTimeout();
    this.maxUnansweredSends = deps.settings().session().maxUnansweredSends();
    this.storage = StorageHealth.get(ctx.getSystem());
    this.resendAfter = deps.settings().session().resendAfter();
    MajorityFence cluster = MajorityFence.get(getContext().getSystem());
    Duration window = deps.settings().session().resendWindow();
    this.resendNow = () -> cluster.changing(window);
    this.pushRef = ctx.messageAdapter(Push.class, Pushed::new);
    this.ownEntity = deps.sharding().entityRefFor(UserEntity.ENTITY_TYPE_KEY, userId);
    this.joinSettledRef = ctx.messageAdapter(Gateway.JoinSettled.class, j -> new JoinSettled(j.groupId()));
    this.rates = deps.rateLimits().attach(userId);
    RouterMetrics.connectionOpened();
    scheduleTokenCheck();
    connect();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Incoming.class, this::onIncoming)
        .onMessage(FromClient.class, this::onFrame)
        .onMessage(Unparseable.class, u -> {
          binary = u.binary();
          error("", ErrorCode.BAD_FRAME, u.reason());
          return this;
        })
        .onMessageEquals(Oversized.INSTANCE, () -> close(CloseCodes.TOO_BIG, "message too big"))
        .onMessageEquals(Drain.INSTANCE, () -> goAway("node shutting down, reconnect"))
        .onMessageEquals(ClientGone.INSTANCE, Behaviors::stopped)
        .onSignal(org.apache.pekko.actor.typed.PostStop.class, stop -> {
          RouterMetrics.connectionClosed();
          rates.release();
          return this;
        })
        .onMessage(Pushed.class, p -> onPush(p.push()))
        .onMessage(JoinSettled.class, j -> {
          if (j.groupId().equals(holdingFor)) {
            releaseHeld();
          }
          return this;
        })
        .onMessage(ConnectAnswer.class, this::onConnectAnswer)
        .onMessage(WelcomeReady.class, this::onWelcomeReady)
        .onMessage(Answered.class, this::onAnswered)
        .onMessage(PageRead.class, this::onPageRead)
        .onMessage(UserEntityGone.class, g -> {
          timers.startSingleTimer(Reconnect.INSTANCE, deps.settings().session().reregisterDelay());
          return this;
        })
        .onMessageEquals(Reconnect.INSTANCE, () -> {
          connect();
          return this;
        })
        .onMessageEquals(TokenCheck.INSTANCE, this::onTokenCheck)
        .build();
  }

  // ------------------------------------------------------------------ registration

  private void connect() {
    ActorAsk.ask(
        getContext(),
        ownEntity,
        UserEntity.ConnectResult.class,
        askTimeout,
        resendAfter, // registering the same session twice is one registration
        resendNow,
        replyTo -> new UserEntity.Connect(pushRef, replyTo),
        ConnectAnswer::new);
  }

  private Behavior<Command> onConnectAnswer(ConnectAnswer answer) {
    if (answer.failure() != null) {
      if (!welcomed) {
        return goAway("storage unavailable, reconnect");
      }
      timers.startSingleTimer(Reconnect.INSTANCE, deps.settings().session().reregisterDelay());
      return this;
    }
    if (answer.result() instanceof UserEntity.Refused refused) {
      error("", refused.code(), refused.message());
      return close(CloseCodes.TOO_MANY_CONNECTIONS, refused.message());
    }
    UserEntity.Connected connected = (UserEntity.Connected) answer.result();
    getContext().watchWith(connected.entity(), new UserEntityGone());
    if (welcomed) {
      return this; // a re-registration after the entity moved: the client keeps its state
    }
    List<CompletableFuture<GroupEntity.Info>> infos = new ArrayList<>();
    for (String groupId : connected.groups()) {
      CompletionStage<GroupEntity.Info> info =
          AskPattern.ask(
              deps.sharding().entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId),
              replyTo -> new GroupEntity.GetInfo(userId, replyTo),
              askTimeout,
              getContext().getSystem().scheduler());
      infos.add(info.toCompletableFuture());
    }
    CompletableFuture<Void> all = CompletableFuture.allOf(infos.toArray(CompletableFuture[]::new));
    getContext()
        .pipeToSelf(
            all,
            (ok, failure) ->
                new WelcomeReady(connected, infos.stream().map(f -> f.getNow(null)).toList(), failure));
    return this;
  }

  private Behavior<Command> onWelcomeReady(WelcomeReady ready) {
    if (ready.failure() != null) {
      return goAway("storage unavailable, reconnect");
    }
    UserEntity.Connected c = ready.connected();
    Map<String, Long> cursors = c.cursors();
    Welcome.Builder welcome =
        Welcome.newBuilder()
            .setUserId(userId)
            .setSessionId(sessionId)
            .addStreams(
                StreamInfo.newBuilder()
                    .setStream(Ids.INBOX)
                    .setLastSeq(c.lastSeq())
                    .setReadSeq(cursors.getOrDefault(Ids.INBOX, 0L)));
    List<String> memberOf = new ArrayList<>();
    for (GroupEntity.Info info : ready.groups()) {
      if (info.role() != null) {
        String stream = Ids.groupStream(info.groupId());
        memberOf.add(info.groupId());
        welcome.addStreams(
            StreamInfo.newBuilder().setStream(stream).setLastSeq(info.lastSeq()).setReadSeq(cursors.getOrDefault(stream, 0L)));
      }
    }
    send(ServerFrame.newBuilder().setWelcome(welcome).build());
    welcomed = true;
    deps.gateway().tell(new Gateway.Online(userId, pushRef, memberOf));
    beforeWelcome.forEach(this::deliver);
    beforeWelcome.clear();
    if (heldBeforeWelcome != null) {
      onIncoming(heldBeforeWelcome);
      heldBeforeWelcome = null;
    }
    return this;
  }

  // ------------------------------------------------------------------ client frames

  /**
   * Frames run only on a welcomed, open session. One sent before the welcome waits unacked (the
   * reader decodes nothing more meanwhile) and runs once the welcome is out; a session that is
   * closing, refused (4029) or never welcomed runs nothing more: its close stands.
   */
  private Behavior<Command> onIncoming(Incoming in) {
    if (closed) {
      return this;
    }
    if (!welcomed) {
      heldBeforeWelcome = in;
      return this;
    }
    // handled next in mailbox order; the ack lets the reader decode one more message
    getContext().getSelf().tell(in.command());
    in.ackTo().tell(Ack.INSTANCE);
    return this;
  }

  private Behavior<Command> onFrame(FromClient in) {
    RouterMetrics.frameIn();
    binary = in.binary();
    ClientFrame f = in.frame();
    switch (f.getFrameCase()) {
      case SEND -> onSend(f.getSend());
      case SYNC -> onSync(f.getSync());
      case READ -> onRead(f.getRead());
      case CREATE_GROUP -> {
        var c = f.getCreateGroup();
        var refused = ContentBounds.title(limits, c.getTitle());
        if (refused.isPresent()) {
          error(c.getRequestId(), refused.get().code(), refused.get().message());
        } else {
          groupOp(c.getRequestId(), c.getGroupId(), replyTo -> new GroupEntity.Create(userId, c.getTitle(), c.getMembersList(), replyTo));
        }
      }
      case ADD_MEMBERS -> {
        var c = f.getAddMembers();
        groupOp(c.getRequestId(), c.getGroupId(), replyTo -> new GroupEntity.AddMembers(userId, c.getMembersList(), replyTo));
      }
      case REMOVE_MEMBERS -> {
        var c = f.getRemoveMembers();
        groupOp(c.getRequestId(), c.getGroupId(), replyTo -> new GroupEntity.RemoveMembers(userId, c.getMembersList(), replyTo));
      }
      case LEAVE_GROUP -> {
        var c = f.getLeaveGroup();
        groupOp(c.getRequestId(), c.getGroupId(), replyTo -> new GroupEntity.Leave(userId, replyTo));
      }
      case SET_ROLE -> {
        var c = f.getSetRole();
        var role = GroupEntity.role(c.getRole());
        if (role.isEmpty() || !Ids.isValid(c.getMember())) {
          error(c.getRequestId(), ErrorCode.BAD_FRAME, "setRole needs a member id and a role: MEMBER, ADMIN or OWNER");
        } else {
          groupOp(c.getRequestId(), c.getGroupId(), replyTo -> new GroupEntity.SetRole(userId, c.getMember(), role.get(), replyTo));
        }
      }
      case TYPING -> onTyping(f.getTyping().getTo());
      case PING -> send(ServerFrame.newBuilder().setPong(Pong.newBuilder().setNonce(f.getPing().getNonce())).build());
      case REFRESH -> onRefresh(f.getRefresh());
      default -> error("", ErrorCode.BAD_FRAME, "empty or unknown frame");
    }
    return this;
  }

  private void onSend(org.imrouter.protocol.v1.Send send) {
    String ref = send.getClientMsgId();
    if (ref.isEmpty() || ref.length() > MAX_REF_LENGTH) {
      error(ref, ErrorCode.BAD_FRAME, "clientMsgId is required (at most " + MAX_REF_LENGTH + " characters)");
      return;
    }
    String contentType = send.getContentType().isEmpty() ? DEFAULT_CONTENT_TYPE : send.getContentType();
    var refused = ContentBounds.message(limits, contentType, send.getText(), send.getPayload().size());
    if (refused.isPresent()) {
      error(ref, refused.get().code(), refused.get().message());
      return;
    }
    var target = Ids.parseTarget(send.getTo());
    if (target.isEmpty()) {
      error(ref, ErrorCode.BAD_FRAME, "'to' must be user:<id> or group:<id>");
      return;
    }
    String conversation = send.getTo();
    if (holdsBack(conversation, ref)) {
      return;
    }
    if (overRate(LimitedFrame.SEND, ref)) { // only sends that could be written cost a token
      return;
    }
    if (storage.failing()) { // an entity could not write it; answered now instead of at the ask timeout
      error(ref, ErrorCode.UNAVAILABLE, StorageHealth.REFUSAL);
      hold(conversation, ref); // never written: nothing later may go out before its resend
      return;
    }
    if (unansweredSends() >= maxUnansweredSends) {
      // storage is behind this connection's sends: refused before it holds any memory here
      error(ref, ErrorCode.UNAVAILABLE, TOO_MANY_UNANSWERED);
      hold(conversation, ref); // nothing later may go out before its resend
      return;
    }
    byte[] payload = send.getPayload().toByteArray();
    Runnable dispatch =
        target.get().kind() == Ids.Address.Kind.USER
            ? () -> ask(Kind.SEND, ref, conversation, ownEntity,
                replyTo -> new UserEntity.SendDirect(ref, conversation, contentType, send.getText(), payload, replyTo))
            : () -> ask(Kind.SEND, ref, conversation, deps.sharding().entityRefFor(GroupEntity.ENTITY_TYPE_KEY, target.get().id()),
                replyTo -> new GroupEntity.Post(userId, ref, contentType, send.getText(), payload, replyTo));
    Deque<QueuedSend> waiting = sendsWaiting.get(conversation);
    if (waiting != null) {
      waiting.add(new QueuedSend(ref, dispatch)); // an earlier send to it is unanswered
    } else {
      sendsWaiting.put(conversation, new ArrayDeque<>());
      dispatch.run();
    }
  }

  /** Sends in flight (one per conversation in sendsWaiting) and waiting behind them. */
  private int unansweredSends() {
    int n = sendsWaiting.size();
    for (Deque<QueuedSend> waiting : sendsWaiting.values()) {
      n += waiting.size();
    }
    return n;
  }

  /**
   * A send to {@code conversation} was answered: the next one waiting goes out. When the answer
   * says the send may not have been stored (no answer in time, UNAVAILABLE), every send waiting
   * behind it is refused UNAVAILABLE without going out: the client resends them after it, in
   * order, so a later send is never stored before an earlier one (docs/decisions/0010).
   */
  private void sendAnswered(String conversation, String ref, boolean mayBeLost) {
    if (mayBeLost) {
      hold(conversation, ref);
    }
    Deque<QueuedSend> waiting = sendsWaiting.get(conversation);
    if (waiting == null) {
      return;
    }
    if (mayBeLost) {
      sendsWaiting.remove(conversation);
      waiting.forEach(q -> error(q.ref(), ErrorCode.UNAVAILABLE, "an earlier send to this conversation was not answered, resend in order"));
      return;
    }
    QueuedSend next = waiting.poll();
    if (next == null) {
      sendsWaiting.remove(conversation);
    } else {
      next.dispatch().run();
    }
  }

  /** Refuses later sends to {@code conversation} until the client resends {@code ref} (or for a while). */
  private void hold(String conversation, String ref) {
    long now = System.nanoTime();
    holds.values().removeIf(h -> h.untilNanos() <= now);
    holds.put(conversation, new Hold(ref, now + askTimeout.multipliedBy(HOLD_ASK_TIMEOUTS).toNanos()));
  }

  /**
   * True, with the send refused UNAVAILABLE, when an earlier send to {@code conversation} was
   * refused as possibly not stored and the client has not resent it yet. The waiting sends behind
   * a refused one are refused with it, but a send the client had not yet sent when the refusal
   * came (its resends go out one by one, and a refusal can be quick) would otherwise go out
   * alone and be stored before the earlier one is resent: guarantee 3, FIFO per sender per
   * conversation, seen broken under load by ClusterFaultTest. The resend of the refused send
   * itself lifts the hold.
   */
  private boolean holdsBack(String conversation, String ref) {
    Hold hold = holds.get(conversation);
    if (hold == null) {
      return false;
    }
    if (hold.ref().equals(ref) || hold.untilNanos() <= System.nanoTime()) {
      holds.remove(conversation);
      return false;
    }
    error(ref, ErrorCode.UNAVAILABLE, "an earlier send to this conversation was refused, resend it first");
    return true;
  }

  private void onSync(org.imrouter.protocol.v1.Sync sync) {
    String ref = sync.getStream();
    var stream = Ids.parseStream(sync.getStream());
    if (stream.isEmpty() || sync.getAfterSeq() < 0 || sync.getLimit() < 0) {
      error(ref, ErrorCode.BAD_FRAME, "sync needs stream \"inbox\" or \"group:<id>\" and non-negative afterSeq and limit");
      return;
    }
    if (overRate(LimitedFrame.SYNC, ref)) {
      return;
    }
    int limit = sync.getLimit() == 0 ? limits.syncMaxLimit() : Math.min(sync.getLimit(), limits.syncMaxLimit());
    if (stream.get().kind() == Ids.Address.Kind.INBOX) {
      ask(Kind.SYNC, ref, ownEntity,
          replyTo -> new UserEntity.Sync(sync.getAfterSeq(), limit, replyTo));
    } else {
      ask(Kind.SYNC, ref, deps.sharding().entityRefFor(GroupEntity.ENTITY_TYPE_KEY, stream.get().id()),
          replyTo -> new GroupEntity.Sync(userId, sync.getAfterSeq(), limit, replyTo));
    }
  }

  private void onRead(org.imrouter.protocol.v1.Read read) {
    if (overRate(LimitedFrame.READ, read.getStream())) {
      return;
    }
    ask(Kind.READ, read.getStream(), ownEntity,
        replyTo -> new UserEntity.MarkRead(read.getStream(), read.getSeq(), replyTo));
  }

  private void groupOp(String requestId, String groupId, java.util.function.Function<ActorRef<Reply>, GroupEntity.Command> command) {
    if (requestId.isEmpty() || requestId.length() > MAX_REF_LENGTH) {
      error(requestId, ErrorCode.BAD_FRAME, "requestId is required (at most " + MAX_REF_LENGTH + " characters)");
      return;
    }
    if (!Ids.isValid(groupId)) {
      error(requestId, ErrorCode.BAD_FRAME, "groupId must be 1-64 characters of [A-Za-z0-9._@-]");
      return;
    }
    if (overRate(LimitedFrame.GROUP_OP, requestId)) {
      return;
    }
    ask(Kind.GROUP_OP, requestId, deps.sharding().entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId), command::apply);
  }

  private void onTyping(String to) {
    var target = Ids.parseTarget(to);
    if (target.isEmpty()) {
      error("", ErrorCode.BAD_FRAME, "'to' must be user:<id> or group:<id>");
      return;
    }
    if (overRate(LimitedFrame.TYPING, "")) {
      return;
    }
    if (target.get().kind() == Ids.Address.Kind.USER) {
      // through the user's own entity, which knows whom the user has a conversation with
      ownEntity.tell(new UserEntity.TypingTo(target.get().id()));
    } else {
      deps.sharding().entityRefFor(GroupEntity.ENTITY_TYPE_KEY, target.get().id()).tell(new GroupEntity.TypingFrom(userId));
    }
  }

  // ------------------------------------------------------------------ token expiry

  /**
   * A new token for this session: verified like a connect token and for the same user, it moves
   * the session's end to its own expiry; otherwise the session keeps the old one. Rate-limited
   * before verifying, which is the costly part (an RSA check under RS256).
   */
  private void onRefresh(org.imrouter.protocol.v1.Refresh refresh) {
    String ref = refresh.getRequestId();
    if (ref.isEmpty() || ref.length() > MAX_REF_LENGTH) {
      error(ref, ErrorCode.BAD_FRAME, "requestId is required (at most " + MAX_REF_LENGTH + " characters)");
      return;
    }
    if (overRate(LimitedFrame.REFRESH, ref)) {
      return;
    }
    var token = deps.jwt().verify(refresh.getToken());
    if (token.isEmpty()) {
      error(ref, ErrorCode.UNAUTHENTICATED, "missing, invalid or expired token");
      return;
    }
    if (!token.get().userId().equals(userId)) {
      error(ref, ErrorCode.FORBIDDEN, "the token is for another user");
      return;
    }
    tokenValidUntil = token.get().validUntil();
    scheduleTokenCheck();
    send(ServerFrame.newBuilder().setResult(Result.newBuilder().setRequestId(ref).setOk(true)).build());
  }

  /** (Re)starts the timer that closes the session when its token expires. */
  private void scheduleTokenCheck() {
    Duration left = Duration.between(Instant.now(), tokenValidUntil);
    // Pekko's scheduler takes delays up to about 248 days; a token valid for longer is looked at
    // again after the cap
    Duration delay = left.isNegative() ? Duration.ZERO : left.compareTo(MAX_TIMER) > 0 ? MAX_TIMER : left;
    timers.startSingleTimer(TOKEN_TIMER, TokenCheck.INSTANCE, delay);
  }

  private Behavior<Command> onTokenCheck() {
    if (Instant.now().isBefore(tokenValidUntil)) {
      scheduleTokenCheck();
      return this;
    }
    return close(CloseCodes.TOKEN_EXPIRED, "token expired: reconnect with a new one, or refresh before it expires");
  }

  private <T> void ask(
      Kind kind,
      String ref,
      org.apache.pekko.actor.typed.RecipientRef<T> target,
      java.util.function.Function<ActorRef<Reply>, T> command) {
    ask(kind, ref, null, target, command);
  }

  /** @param conversation the target of a send (its answer lets the next send to it go out), else null */
  private <T> void ask(
      Kind kind,
      String ref,
      String conversation,
      org.apache.pekko.actor.typed.RecipientRef<T> target,
      java.util.function.Function<ActorRef<Reply>, T> command) {
    ActorAsk.ask(
        getContext(),
        target,
        Reply.class,
        askTimeout,
        kind == Kind.GROUP_OP ? null : resendAfter, // group operations are not idempotent
        resendNow,
        command,
        (reply, failure) -> new Answered(kind, ref, conversation, reply, failure));
  }

  private Behavior<Command> onAnswered(Answered a) {
    answer(a); // a send's answer goes out before the refusals or the next send behind it
    if (a.conversation() != null) {
      boolean mayBeLost = Reply.mayBeUnwritten(a.reply(), a.failure());
      sendAnswered(a.conversation(), a.ref(), mayBeLost);
    }
    return this;
  }

  private void answer(Answered a) {
    if (a.failure() != null) {
      // no answer in time: storage is down or slow; a retry with the same id is safe
      error(a.ref(), ErrorCode.UNAVAILABLE, "no answer in time, retry later");
      return;
    }
    Reply reply = a.reply();
    if (reply instanceof Reply.Rejection r) {
      error(a.ref(), r.code(), r.message());
    } else if (reply instanceof Reply.Accepted acc) {
      RouterMetrics.accepted(acc.stream().equals(Ids.INBOX) ? "direct" : "group");
      send(ServerFrame.newBuilder()
          .setAccepted(Accepted.newBuilder()
              .setClientMsgId(acc.clientMsgId()).setStream(acc.stream()).setSeq(acc.seq()).setMsgId(acc.msgId()).setTs(acc.ts()))
          .build());
    } else if (reply instanceof Reply.HistoryPage || reply instanceof Reply.HistoryInJournal) {
      getContext().pipeToSelf(
          StreamPages.resolve(reply, deps.history(), limits.syncMaxBytes()), (page, failure) -> new PageRead(a.ref(), page, failure));
    } else if (reply instanceof Reply.Done && a.kind() == Kind.GROUP_OP) {
      send(ServerFrame.newBuilder().setResult(Result.newBuilder().setRequestId(a.ref()).setOk(true)).build());
    }
  }

  private Behavior<Command> onPageRead(PageRead read) {
    if (read.failure() != null) {
      error(read.stream(), ErrorCode.UNAVAILABLE, "history could not be read, retry later");
      return this;
    }
    History.Builder h = History.newBuilder().setStream(read.stream()).setHasMore(read.page().hasMore());
    read.page().items().forEach(i -> h.addItems(ItemFrames.toClient(i)));
    send(ServerFrame.newBuilder().setHistory(h).build());
    return this;
  }

  // ------------------------------------------------------------------ pushes

  private Behavior<Command> onPush(Push push) {
    if (!welcomed) {
      beforeWelcome.add(push);
    } else {
      deliver(push);
    }
    return this;
  }

  private void deliver(Push push) {
    if (holdingFor != null) {
      heldForJoin.add(push);
      return;
    }
    if (push instanceof StreamItem.Inbox inbox && inbox.event().hasMembership() && inbox.event().getMembership().getMember()) {
      holdingFor = inbox.event().getMembership().getGroupId();
      heldForJoin.add(push);
      deps.gateway().tell(new Gateway.Joined(userId, holdingFor, joinSettledRef));
      // never hold for long: if the group does not answer, the client's sync covers the rest
      timers.startSingleTimer(JOIN_TIMER, new JoinSettled(holdingFor), askTimeout);
      return;
    }
    emit(push);
  }

  private void releaseHeld() {
    holdingFor = null;
    timers.cancel(JOIN_TIMER);
    List<Push> held = new ArrayList<>(heldForJoin);
    heldForJoin.clear();
    emit(held.get(0)); // the ADDED_TO_GROUP item that started the hold
    held.subList(1, held.size()).forEach(this::deliver); // may start another hold; order is kept
  }

  private void emit(Push push) {
    RouterMetrics.delivered();
    if (push instanceof Push.Typing t) {
      send(ServerFrame.newBuilder().setTyping(TypingNotice.newBuilder().setFrom(t.from()).setConversation(t.conversation())).build());
      return;
    }
    StreamItem item = (StreamItem) push;
    var clientItem = ItemFrames.toClient(item);
    ServerFrame.Builder frame = ServerFrame.newBuilder();
    if (clientItem.hasMessage()) {
      frame.setMessage(clientItem.getMessage());
    } else {
      frame.setSystem(clientItem.getSystem());
    }
    send(frame.build());
  }

  // ------------------------------------------------------------------ output

  private void send(ServerFrame frame) {
    if (!closed) {
      RouterMetrics.frameOut();
      out.tell(new OutFrame(frame, binary));
    }
  }

  private void error(String ref, ErrorCode code, String message) {
    RouterMetrics.error(code.name());
    send(ServerFrame.newBuilder().setError(Error.newBuilder().setRef(ref).setCode(code.name()).setMessage(message)).build());
  }

  /** Takes a token of {@code kind}; when the user is over that rate, answers RATE_LIMITED and says so. */
  private boolean overRate(LimitedFrame kind, String ref) {
    if (rates.tryAcquire(kind)) {
      return false;
    }
    error(ref, ErrorCode.RATE_LIMITED, "more than " + rates.perSecond(kind) + " " + kind.name().toLowerCase().replace('_', ' ') + " frames per second");
    return true;
  }

  /**
   * Closes with 1001 and a delay drawn for this connection: the clients sent away together come
   * back spread over the reconnect window.
   */
  private Behavior<Command> goAway(String why) {
    return close(CloseCodes.GOING_AWAY, deps.reconnectBackoff().reason(why));
  }

  private Behavior<Command> close(int code, String reason) {
    if (!closed) {
      out.tell(new OutClose(code, reason));
      closed = true;
    }
    return this;
  }

  private static final int MAX_REF_LENGTH = 128;
  private static final String JOIN_TIMER = "join-settled";
  private static final String TOKEN_TIMER = "token-expiry";
  private static final Duration MAX_TIMER = Duration.ofDays(1);
  private static final String DEFAULT_CONTENT_TYPE = "text/plain";
}
