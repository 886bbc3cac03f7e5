package org.imrouter.loadtest.client;

import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.check.StreamKey;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.Result;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfo;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.Sync;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.Welcome;

/**
 * One WebSocket connection of one user. It decodes server frames, feeds every pushed item to the
 * run's checkers (live seq order, duplicates, live count per stream), completes the futures of
 * what the load generator awaits (welcome, sync pages, group requests) and hands the rest to the
 * scenario's {@link SessionListener}. No thread of its own: frames arrive on the connection's
 * event-loop thread, sends go into the connection's bounded send buffer.
 */
public final class ClientSession {
  /** The inbox's stream name in frames. */
  public static final String INBOX = "inbox";
  /**
   * The error code that means "retry later" (the router's ErrorCode.UNAVAILABLE): the server
   * stored nothing, and the same request with the same id is safe to send again.
   */
  public static final String UNAVAILABLE = "UNAVAILABLE";
  /** Attempts at one sync page answered UNAVAILABLE before a count fails. */
  static final int UNAVAILABLE_ATTEMPTS = 5;
  /** The first pause before asking again after UNAVAILABLE (a resent send adds up to as much at random). */
  public static final Duration UNAVAILABLE_BACKOFF = Duration.ofMillis(250);

  private final String id;
  private final String user;
  private final Checks checks;
  private final SessionListener listener;
  private final CompletableFuture<Welcome> welcome = new CompletableFuture<>();
  private final CompletableFuture<CloseInfo> closed = new CompletableFuture<>();
  private final Map<String, Long> welcomeSeqs = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> liveItems = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<History>> syncs = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Result>> requests = new ConcurrentHashMap<>();
  private volatile Outbound out;
  // a close asked for before the connection was set up is carried out when it is
  private volatile boolean closeRequested;
  private volatile long welcomedAtNanos;

  ClientSession(String id, String user, Checks checks, SessionListener listener) {
    this.id = id;
    this.user = user;
    this.checks = checks;
    this.listener = listener;
  }

  /** Unique within the run; the checkers key streams by it. */
  public String id() {
    return id;
  }

  public String user() {
    return user;
  }

  public CompletableFuture<Welcome> welcome() {
    return welcome;
  }

  public long welcomedAtNanos() {
    return welcomedAtNanos;
  }

  public CompletableFuture<CloseInfo> closed() {
    return closed;
  }

  /** The lastSeq the welcome gave for a stream (0 for one it did not list). */
  public long welcomeSeq(String stream) {
    return welcomeSeqs.getOrDefault(stream, 0L);
  }

  /** Items pushed live on a stream since the welcome. */
  public long liveItems(String stream) {
    LongAdder n = liveItems.get(stream);
    return n == null ? 0 : n.sum();
  }

  /** The last seq this session saw on a stream (welcome or live). */
  public long lastSeq(String stream) {
    return checks.seqs.lastSeq(new StreamKey(id, stream), welcomeSeq(stream));
  }

  /** Queues a frame; false if the connection is not open or its send buffer is full. */
  public boolean send(ClientFrame frame) {
    Outbound o = out;
    return o != null && o.send(frame.toByteArray());
  }

  /** Sends a group request (createGroup, addMembers, …) and completes with its result or error. */
  public CompletionStage<Result> request(String requestId, ClientFrame frame) {
    CompletableFuture<Result> answer = new CompletableFuture<>();
    requests.put(requestId, answer);
    if (!send(frame)) {
      requests.remove(requestId);
      answer.completeExceptionally(new IllegalStateException("session " + id + " cannot send"));
    }
    return answer;
  }

  /** One page of a stream's history after {@code afterSeq}. One sync per stream at a time. */
  public CompletionStage<History> sync(String stream, long afterSeq, int limit) {
    CompletableFuture<History> answer = new CompletableFuture<>();
    syncs.put(stream, answer);
    ClientFrame frame =
        ClientFrame.newBuilder()
            .setSync(Sync.newBuilder().setStream(stream).setAfterSeq(afterSeq).setLimit(limit))
            .build();
    if (!send(frame)) {
      syncs.remove(stream);
      answer.completeExceptionally(new IllegalStateException("session " + id + " cannot send"));
    }
    return answer;
  }

  /** Counts the stored items of a stream after {@code afterSeq}, paging until hasMore is false. */
  public CompletionStage<Long> countStored(String stream, long afterSeq, int pageSize) {
    return countFrom(stream, afterSeq, pageSize, 0);
  }

  private CompletionStage<Long> countFrom(String stream, long afterSeq, int pageSize, long countedSoFar) {
    return syncRetrying(stream, afterSeq, pageSize, 1)
        .thenCompose(
            page -> {
              long total = countedSoFar + page.getItemsCount();
              if (!page.getHasMore() || page.getItemsCount() == 0) {
                return CompletableFuture.completedFuture(total);
              }
              return countFrom(stream, seqOf(page.getItems(page.getItemsCount() - 1)), pageSize, total);
            });
  }

  /**
   * A page the server answered UNAVAILABLE ("retry later") is asked again, as a client does, after
   * {@link #UNAVAILABLE_BACKOFF} times the attempt; any other error fails the count.
   */
  private CompletionStage<History> syncRetrying(String stream, long afterSeq, int limit, int attempt) {
    return sync(stream, afterSeq, limit)
        .exceptionallyCompose(
            failure -> {
              Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
              if (cause instanceof ServerError e && e.code().equals(UNAVAILABLE) && attempt < UNAVAILABLE_ATTEMPTS) {
                Executor later = CompletableFuture.delayedExecutor(UNAVAILABLE_BACKOFF.toMillis() * attempt, TimeUnit.MILLISECONDS);
                return CompletableFuture.runAsync(() -> {}, later).thenCompose(ignored -> syncRetrying(stream, afterSeq, limit, attempt + 1));
              }
              return CompletableFuture.failedFuture(cause);
            });
  }

  private static long seqOf(StreamItem item) {
    return item.hasMessage() ? item.getMessage().getSeq() : item.getSystem().getSeq();
  }

  void attach(Outbound outbound) {
    this.out = outbound;
    if (closeRequested) {
      outbound.close();
    }
  }

  /** Closes the connection from the client side (normal close). */
  public void close() {
    closeRequested = true;
    Outbound o = out;
    if (o != null) {
      o.close();
    }
  }

  // closed completes first: whoever sees the welcome fail can read how the connection ended (and
  // whether to reconnect, ReconnectPolicy)
  void connectFailed(Throwable cause) {
    closed.complete(new CloseInfo(CloseInfo.ABNORMAL, "connect failed: " + cause.getMessage(), System.nanoTime()));
    welcome.completeExceptionally(cause);
  }

  void ended(CloseInfo info) {
    out = null;
    closed.complete(info);
    welcome.completeExceptionally(new IllegalStateException("closed before welcome: " + info));
    IllegalStateException gone = new IllegalStateException("connection closed: " + info);
    syncs.values().forEach(f -> f.completeExceptionally(gone));
    requests.values().forEach(f -> f.completeExceptionally(gone));
  }

  void onBytes(ByteBuffer bytes) {
    long now = System.nanoTime();
    ServerFrame frame;
    try {
      frame = ServerFrame.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      listener.onError(this, "", "UNPARSABLE_FRAME", now);
      return;
    }
    switch (frame.getFrameCase()) {
      case WELCOME -> onWelcome(frame.getWelcome(), now);
      case ACCEPTED -> listener.onAccepted(this, frame.getAccepted(), now);
      case MESSAGE -> onMessage(frame.getMessage(), now);
      case SYSTEM -> onSystem(frame.getSystem(), now);
      case HISTORY -> complete(syncs.remove(frame.getHistory().getStream()), frame.getHistory());
      case RESULT -> complete(requests.remove(frame.getResult().getRequestId()), frame.getResult());
      case ERROR -> onError(frame.getError(), now);
      default -> {
        // pong and typing carry nothing a scenario measures
      }
    }
  }

  private void onWelcome(Welcome w, long now) {
    for (StreamInfo s : w.getStreamsList()) {
      welcomeSeqs.put(s.getStream(), s.getLastSeq());
      checks.seqs.start(new StreamKey(id, s.getStream()), s.getLastSeq());
    }
    welcomedAtNanos = now;
    welcome.complete(w);
  }

  private void onMessage(Message m, long now) {
    StreamKey key = new StreamKey(id, m.getStream());
    checks.seqs.observe(key, m.getSeq());
    checks.duplicates.observe(key, m.getMsgId());
    liveItems.computeIfAbsent(m.getStream(), s -> new LongAdder()).increment();
    listener.onMessage(this, m, now);
  }

  private void onSystem(SystemItem item, long now) {
    checks.seqs.observe(new StreamKey(id, item.getStream()), item.getSeq());
    liveItems.computeIfAbsent(item.getStream(), s -> new LongAdder()).increment();
    listener.onSystem(this, item, now);
  }

  private void onError(org.imrouter.protocol.v1.Error e, long now) {
    ServerError error = new ServerError(e.getCode(), e.getMessage());
    CompletableFuture<History> sync = syncs.remove(e.getRef());
    if (sync != null) {
      sync.completeExceptionally(error);
    }
    CompletableFuture<Result> request = requests.remove(e.getRef());
    if (request != null) {
      request.completeExceptionally(error);
    }
    listener.onError(this, e.getRef(), e.getCode(), now);
  }

  private static <T> void complete(CompletableFuture<T> future, T value) {
    if (future != null) {
      future.complete(value);
    }
  }
}
