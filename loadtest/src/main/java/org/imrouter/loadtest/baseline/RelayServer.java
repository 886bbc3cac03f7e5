package org.imrouter.loadtest.baseline;

import com.auth0.jwt.JWT;
import com.google.protobuf.InvalidProtocolBufferException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.WebSocket;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.CreateGroup;
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Pong;
import org.imrouter.protocol.v1.Result;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.Sync;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;
import org.imrouter.protocol.v1.Welcome;

/**
 * The transport baseline: a bare Pekko HTTP WebSocket relay speaking just enough of the client
 * protocol for the ladders (welcome, send to a user → accepted + a push to the recipient's
 * sessions and a copy to the sender's, createGroup → result + ADDED_TO_GROUP in each member's
 * inbox, send to a group → accepted + a push to every member's sessions, sync, ping). Inboxes and
 * groups are in memory with per-stream seq counters; nothing is durable, no entity, no cluster,
 * no membership changes after creation. Running the same ladder
 * against it shows what the WebSocket transport and the load generator alone can do on this
 * machine, so the router's figure can be read as a fraction of it.
 */
public final class RelayServer implements AutoCloseable {
  private static final String HOST = "127.0.0.1";
  private static final String PATH = "/v1/ws";
  private static final int OUTBOUND_FRAMES = 4096;
  private static final Duration STREAMED_FRAME_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration BIND_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);
  private static final String BEARER = "Bearer ";

  /**
   * No idle timeout and no connection cap: the relay must hold whatever the ladder opens. The
   * accept backlog (100 by default) must exceed the load generator's connects in flight (200 by
   * default), or the kernel drops SYNs and a handshake waits out a 1 s, 3 s, 7 s … retransmission.
   */
  private static final String SERVER_CONFIG =
      """
      pekko.http.server.idle-timeout = infinite
      pekko.http.server.max-connections = 1000000
      pekko.http.server.backlog = 2048
      pekko.loglevel = WARNING
      pekko.stdout-loglevel = WARNING
      pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
      pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
      """;

  private static final String INBOX = "inbox";
  private static final String USER_PREFIX = "user:";
  private static final String GROUP_PREFIX = "group:";

  /** One user's inbox: seq counter, stored items, connected sessions. Guarded by itself. */
  private static final class Inbox {
    long lastSeq;
    final List<StreamItem> items = new ArrayList<>();
    final Set<Connection> sessions = ConcurrentHashMap.newKeySet();
    /** "group:<id>" of every group the user belongs to, for the welcome. */
    final Set<String> groups = ConcurrentHashMap.newKeySet();
  }

  /** One group's stream: seq counter, stored items, members (fixed at creation). Guarded by itself. */
  private static final class Group {
    long lastSeq;
    final List<StreamItem> items = new ArrayList<>();
    final Set<String> members;

    Group(Set<String> members) {
      this.members = Set.copyOf(members);
    }
  }

  /** One client connection. */
  private static final class Connection {
    final String user;
    volatile BoundedSourceQueue<Message> out;

    Connection(String user) {
      this.user = user;
    }

    void push(ServerFrame frame) {
      push(ByteString.fromArrayUnsafe(frame.toByteArray()));
    }

    /** A frame serialized once for all the sessions it goes to (a group fan-out). */
    void push(ByteString frame) {
      BoundedSourceQueue<Message> q = out;
      if (q != null) {
        // a client that lets its buffer overflow loses frames; the ladder's checkers then say so
        q.offer(BinaryMessage.create(frame));
      }
    }
  }

  private final ActorSystem system;
  private final Materializer materializer;
  private final ServerBinding binding;
  private final Map<String, Inbox> inboxes = new ConcurrentHashMap<>();
  private final Map<String, Group> groups = new ConcurrentHashMap<>();
  private final AtomicLong msgIds = new AtomicLong();

  private RelayServer() throws Exception {
    system = ActorSystem.create("relay", ConfigFactory.parseString(SERVER_CONFIG).withFallback(ConfigFactory.load()));
    materializer = Materializer.matFromSystem(system);
    binding =
        Http.get(system)
            .newServerAt(HOST, 0)
            .bindSync(this::handle)
            .toCompletableFuture()
            .get(BIND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Starts the relay on 127.0.0.1 on a free port. */
  public static RelayServer start() throws Exception {
    return new RelayServer();
  }

  public String url() {
    return "ws://" + HOST + ":" + binding.localAddress().getPort() + PATH;
  }

  private HttpResponse handle(HttpRequest request) {
    if (!request.getUri().path().equals(PATH)) {
      return HttpResponse.create().withStatus(StatusCodes.NOT_FOUND);
    }
    Optional<String> user = user(request);
    if (user.isEmpty()) {
      return HttpResponse.create().withStatus(StatusCodes.UNAUTHORIZED);
    }
    return WebSocket.handleWebSocketRequestWith(request, connectionFlow(new Connection(user.get())));
  }

  /** The token's subject, read without verifying: the relay measures transport, not auth. */
  private static Optional<String> user(HttpRequest request) {
    Optional<String> token =
        request
            .getHeader("Authorization")
            .map(h -> h.value())
            .filter(v -> v.startsWith(BEARER))
            .map(v -> v.substring(BEARER.length()))
            .or(() -> request.getUri().query().get("access_token"));
    try {
      return token.map(t -> JWT.decode(t).getSubject());
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  private Flow<Message, Message, ?> connectionFlow(Connection c) {
    Sink<Message, CompletionStage<Done>> incoming =
        Flow.<Message>create()
            .filter(m -> !m.isText())
            .mapAsync(1, this::bytes)
            .toMat(Sink.foreach(b -> onFrame(c, b)), Keep.right())
            .mapMaterializedValue(done -> done.whenComplete((d, e) -> inbox(c.user).sessions.remove(c)));
    Source<Message, BoundedSourceQueue<Message>> outgoing =
        Source.<Message>queue(OUTBOUND_FRAMES)
            .mapMaterializedValue(
                q -> {
                  c.out = q;
                  welcome(c);
                  return q;
                });
    return Flow.fromSinkAndSourceCoupledMat(incoming, outgoing, Keep.none());
  }

  private CompletionStage<ByteString> bytes(Message message) {
    var binary = message.asBinaryMessage();
    if (binary.isStrict()) {
      return CompletableFuture.completedFuture(binary.getStrictData());
    }
    return binary
        .getStreamedData()
        .completionTimeout(STREAMED_FRAME_TIMEOUT)
        .runFold(ByteString.emptyByteString(), ByteString::concat, materializer);
  }

  private Inbox inbox(String user) {
    return inboxes.computeIfAbsent(user, u -> new Inbox());
  }

  private void welcome(Connection c) {
    Inbox inbox = inbox(c.user);
    synchronized (inbox) {
      // registered and welcomed under the inbox lock, so no push slips between lastSeq and the first live item
      inbox.sessions.add(c);
      Welcome.Builder welcome =
          Welcome.newBuilder()
              .setUserId(c.user)
              .setSessionId("relay-" + System.identityHashCode(c))
              .addStreams(StreamInfo.newBuilder().setStream(INBOX).setLastSeq(inbox.lastSeq));
      // a group post racing this welcome may be pushed and counted in lastSeq both; the ladders
      // connect every member before they create groups, so the relay does not order the two
      for (String stream : inbox.groups) {
        Group g = groups.get(stream.substring(GROUP_PREFIX.length()));
        synchronized (g) {
          welcome.addStreams(StreamInfo.newBuilder().setStream(stream).setLastSeq(g.lastSeq));
        }
      }
      c.push(ServerFrame.newBuilder().setWelcome(welcome).build());
    }
  }

  private void onFrame(Connection c, ByteString bytes) {
    ClientFrame frame;
    try {
      frame = ClientFrame.parseFrom(bytes.toArrayUnsafe());
    } catch (InvalidProtocolBufferException e) {
      c.push(error("", "BAD_FRAME", "not a ClientFrame"));
      return;
    }
    switch (frame.getFrameCase()) {
      case SEND -> onSend(c, frame.getSend());
      case SYNC -> onSync(c, frame.getSync());
      case CREATE_GROUP -> onCreateGroup(c, frame.getCreateGroup());
      case PING -> c.push(ServerFrame.newBuilder().setPong(Pong.newBuilder().setNonce(frame.getPing().getNonce())).build());
      default -> c.push(error("", "BAD_FRAME", "the relay does not implement " + frame.getFrameCase()));
    }
  }

  private void onSend(Connection c, Send send) {
    if (send.getTo().startsWith(GROUP_PREFIX)) {
      onGroupSend(c, send);
      return;
    }
    if (!send.getTo().startsWith(USER_PREFIX)) {
      c.push(error(send.getClientMsgId(), "BAD_FRAME", "to is user:<id> or group:<id>"));
      return;
    }
    String recipient = send.getTo().substring(USER_PREFIX.length());
    String msgId = "r" + msgIds.incrementAndGet();
    long ts = System.currentTimeMillis();
    long senderSeq = append(c.user, msgId, c.user, "user:" + recipient, ts, send.getText());
    c.push(
        ServerFrame.newBuilder()
            .setAccepted(
                Accepted.newBuilder()
                    .setClientMsgId(send.getClientMsgId())
                    .setStream(INBOX)
                    .setSeq(senderSeq)
                    .setMsgId(msgId)
                    .setTs(ts))
            .build());
    append(recipient, msgId, c.user, "user:" + c.user, ts, send.getText());
  }

  /** Appends a message to a user's inbox and pushes it to the user's sessions; returns its seq. */
  private long append(String owner, String msgId, String from, String conversation, long ts, String text) {
    Inbox inbox = inbox(owner);
    synchronized (inbox) {
      org.imrouter.protocol.v1.Message m = message(INBOX, ++inbox.lastSeq, msgId, from, conversation, ts, text);
      inbox.items.add(StreamItem.newBuilder().setMessage(m).build());
      ServerFrame push = ServerFrame.newBuilder().setMessage(m).build();
      inbox.sessions.forEach(s -> s.push(push));
      return m.getSeq();
    }
  }

  /** One message item of a stream, as the router sends it. */
  private static org.imrouter.protocol.v1.Message message(
      String stream, long seq, String msgId, String from, String conversation, long ts, String text) {
    return org.imrouter.protocol.v1.Message.newBuilder()
        .setStream(stream)
        .setSeq(seq)
        .setMsgId(msgId)
        .setFrom(from)
        .setConversation(conversation)
        .setTs(ts)
        .setText(text)
        .build();
  }

  /** Appends a system item to a user's inbox and pushes it to the user's sessions. */
  private void appendSystem(String owner, SystemItem.Builder item) {
    Inbox inbox = inbox(owner);
    synchronized (inbox) {
      SystemItem built = item.setStream(INBOX).setSeq(++inbox.lastSeq).build();
      inbox.items.add(StreamItem.newBuilder().setSystem(built).build());
      ServerFrame push = ServerFrame.newBuilder().setSystem(built).build();
      inbox.sessions.forEach(s -> s.push(push));
    }
  }

  /**
   * Creates the group with the creator and the listed members, its stream starting with CREATED;
   * each member's inbox gets ADDED_TO_GROUP, then the creator the result. No size limit.
   */
  private void onCreateGroup(Connection c, CreateGroup create) {
    Set<String> members = new LinkedHashSet<>();
    members.add(c.user);
    members.addAll(create.getMembersList());
    Group group = new Group(members);
    if (groups.putIfAbsent(create.getGroupId(), group) != null) {
      c.push(error(create.getRequestId(), "ALREADY_EXISTS", "group " + create.getGroupId() + " exists"));
      return;
    }
    String stream = GROUP_PREFIX + create.getGroupId();
    long ts = System.currentTimeMillis();
    synchronized (group) {
      SystemItem created =
          SystemItem.newBuilder()
              .setStream(stream)
              .setSeq(++group.lastSeq)
              .setKind(SystemKind.CREATED)
              .setActor(c.user)
              .setTitle(create.getTitle())
              .addAllMembers(members)
              .setTs(ts)
              .build();
      group.items.add(StreamItem.newBuilder().setSystem(created).build());
    }
    for (String member : members) {
      inbox(member).groups.add(stream);
      appendSystem(member, SystemItem.newBuilder().setKind(SystemKind.ADDED_TO_GROUP).setActor(c.user).setGroup(stream).setTs(ts));
    }
    c.push(ServerFrame.newBuilder().setResult(Result.newBuilder().setRequestId(create.getRequestId()).setOk(true)).build());
  }

  /** A post: the group's next seq, accepted to the poster, then one push per member session. */
  private void onGroupSend(Connection c, Send send) {
    String stream = send.getTo();
    Group group = groups.get(stream.substring(GROUP_PREFIX.length()));
    if (group == null) {
      c.push(error(send.getClientMsgId(), "NOT_FOUND", "no " + stream));
      return;
    }
    if (!group.members.contains(c.user)) {
      c.push(error(send.getClientMsgId(), "NOT_A_MEMBER", "not a member of " + stream));
      return;
    }
    String msgId = "r" + msgIds.incrementAndGet();
    long ts = System.currentTimeMillis();
    synchronized (group) {
      // under the group's lock, so every member sees the group's items in seq order
      org.imrouter.protocol.v1.Message m = message(stream, ++group.lastSeq, msgId, c.user, stream, ts, send.getText());
      group.items.add(StreamItem.newBuilder().setMessage(m).build());
      c.push(
          ServerFrame.newBuilder()
              .setAccepted(
                  Accepted.newBuilder().setClientMsgId(send.getClientMsgId()).setStream(stream).setSeq(m.getSeq()).setMsgId(msgId).setTs(ts))
              .build());
      ByteString push = ByteString.fromArrayUnsafe(ServerFrame.newBuilder().setMessage(m).build().toByteArray());
      for (String member : group.members) {
        inbox(member).sessions.forEach(s -> s.push(push));
      }
    }
  }

  private void onSync(Connection c, Sync sync) {
    String stream = sync.getStream();
    History.Builder history = History.newBuilder().setStream(stream);
    if (stream.equals(INBOX)) {
      Inbox inbox = inbox(c.user);
      synchronized (inbox) {
        page(inbox.items, sync, history);
      }
    } else {
      Group group = stream.startsWith(GROUP_PREFIX) ? groups.get(stream.substring(GROUP_PREFIX.length())) : null;
      if (group == null || !group.members.contains(c.user)) {
        c.push(error(stream, group == null ? "NOT_FOUND" : "NOT_A_MEMBER", "cannot read " + stream));
        return;
      }
      synchronized (group) {
        page(group.items, sync, history);
      }
    }
    c.push(ServerFrame.newBuilder().setHistory(history).build());
  }

  /** The items after afterSeq, at most limit; called under the stream's lock. */
  private static void page(List<StreamItem> items, Sync sync, History.Builder history) {
    // seqs start at 1 and have no holes, so item seq s sits at index s - 1
    int from = (int) Math.max(0, Math.min(sync.getAfterSeq(), items.size()));
    int to = (int) Math.min(items.size(), (long) from + Math.max(1, sync.getLimit()));
    history.addAllItems(items.subList(from, to));
    history.setHasMore(to < items.size());
  }

  private static ServerFrame error(String ref, String code, String message) {
    return ServerFrame.newBuilder().setError(Error.newBuilder().setRef(ref).setCode(code).setMessage(message)).build();
  }

  @Override
  public void close() {
    try {
      binding.unbind().toCompletableFuture().get(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // the measurement is done; a slow shutdown of the baseline must not fail the run
    }
  }
}
