package org.imrouter.loadtest.baseline;

import com.auth0.jwt.JWT;
import com.google.protobuf.InvalidProtocolBufferException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
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
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Pong;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.Sync;
import org.imrouter.protocol.v1.Welcome;

/**
 * The transport baseline: a bare Pekko HTTP WebSocket relay speaking just enough of the client
 * protocol for the dm ladder (welcome, send to a user → accepted + a push to the recipient's
 * sessions and a copy to the sender's, sync of the inbox, ping). Inboxes are in memory with
 * per-user seq counters; nothing is durable, no entity, no cluster. Running the same ladder
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

  /** One user's inbox: seq counter, stored items, connected sessions. Guarded by itself. */
  private static final class Inbox {
    long lastSeq;
    final List<org.imrouter.protocol.v1.Message> items = new ArrayList<>();
    final Set<Connection> sessions = ConcurrentHashMap.newKeySet();
  }

  /** One client connection. */
  private static final class Connection {
    final String user;
    volatile BoundedSourceQueue<Message> out;

    Connection(String user) {
      this.user = user;
    }

    void push(ServerFrame frame) {
      BoundedSourceQueue<Message> q = out;
      if (q != null) {
        // a client that lets its buffer overflow loses frames; the ladder's checkers then say so
        q.offer(BinaryMessage.create(ByteString.fromArrayUnsafe(frame.toByteArray())));
      }
    }
  }

  private final ActorSystem system;
  private final Materializer materializer;
  private final ServerBinding binding;
  private final Map<String, Inbox> inboxes = new ConcurrentHashMap<>();
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
      c.push(
          ServerFrame.newBuilder()
              .setWelcome(
                  Welcome.newBuilder()
                      .setUserId(c.user)
                      .setSessionId("relay-" + System.identityHashCode(c))
                      .addStreams(StreamInfo.newBuilder().setStream("inbox").setLastSeq(inbox.lastSeq)))
              .build());
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
      case PING -> c.push(ServerFrame.newBuilder().setPong(Pong.newBuilder().setNonce(frame.getPing().getNonce())).build());
      default -> c.push(error("", "BAD_FRAME", "the relay only relays direct messages"));
    }
  }

  private void onSend(Connection c, Send send) {
    if (!send.getTo().startsWith("user:")) {
      c.push(error(send.getClientMsgId(), "NOT_FOUND", "the relay only relays direct messages"));
      return;
    }
    String recipient = send.getTo().substring("user:".length());
    String msgId = "r" + msgIds.incrementAndGet();
    long ts = System.currentTimeMillis();
    long senderSeq = append(c.user, msgId, c.user, "user:" + recipient, ts, send.getText());
    c.push(
        ServerFrame.newBuilder()
            .setAccepted(
                Accepted.newBuilder()
                    .setClientMsgId(send.getClientMsgId())
                    .setStream("inbox")
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
      org.imrouter.protocol.v1.Message m =
          org.imrouter.protocol.v1.Message.newBuilder()
              .setStream("inbox")
              .setSeq(++inbox.lastSeq)
              .setMsgId(msgId)
              .setFrom(from)
              .setConversation(conversation)
              .setTs(ts)
              .setText(text)
              .build();
      inbox.items.add(m);
      ServerFrame push = ServerFrame.newBuilder().setMessage(m).build();
      inbox.sessions.forEach(s -> s.push(push));
      return m.getSeq();
    }
  }

  private void onSync(Connection c, Sync sync) {
    if (!sync.getStream().equals("inbox")) {
      c.push(error(sync.getStream(), "NOT_FOUND", "the relay has only inboxes"));
      return;
    }
    Inbox inbox = inbox(c.user);
    History.Builder history = History.newBuilder().setStream("inbox");
    synchronized (inbox) {
      // seqs start at 1 and have no holes, so item seq s sits at index s - 1
      int from = (int) Math.max(0, Math.min(sync.getAfterSeq(), inbox.items.size()));
      int to = (int) Math.min(inbox.items.size(), (long) from + Math.max(1, sync.getLimit()));
      for (int i = from; i < to; i++) {
        history.addItems(StreamItem.newBuilder().setMessage(inbox.items.get(i)));
      }
      history.setHasMore(to < inbox.items.size());
    }
    c.push(ServerFrame.newBuilder().setHistory(history).build());
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
