package org.imrouter.node.testkit;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.ServerFrame;

/**
 * A real WebSocket client (the JDK's) for end-to-end tests. Keeps every server frame it receives;
 * {@link #expect} waits for the next frame matching a condition, so tests wait on conditions,
 * never on the clock.
 */
public final class WsClient implements AutoCloseable {
  public static final Duration TIMEOUT = Duration.ofSeconds(15);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final List<ServerFrame> frames = new ArrayList<>();
  private final List<Boolean> binaryFlags = new ArrayList<>();
  private final CompletableFuture<Integer> closeCode = new CompletableFuture<>();
  // set before closeCode completes
  private volatile String closeReason;
  private final StringBuilder textPart = new StringBuilder();
  private ByteBuffer binaryPart = ByteBuffer.allocate(0);
  private final java.util.concurrent.atomic.AtomicInteger pings = new java.util.concurrent.atomic.AtomicInteger();
  private int consumed;
  private WebSocket ws;

  private WsClient() {}

  public static WsClient connect(URI uri) {
    return connect(uri, Map.of());
  }

  public static WsClient connect(URI uri, Map<String, String> headers) {
    WsClient client = new WsClient();
    WebSocket.Builder builder = HTTP.newWebSocketBuilder().connectTimeout(TIMEOUT);
    headers.forEach(builder::header);
    client.ws = builder.buildAsync(uri, client.listener()).orTimeout(TIMEOUT.toSeconds(), TimeUnit.SECONDS).join();
    return client;
  }

  /**
   * Connects as a client does: an upgrade refused 503 (over the node's admission rate, or the
   * node overloaded) is tried again after the Retry-After it carries, for up to
   * {@link #ADMISSION_TIMEOUT}. For nodes that run with the shipped load shedding.
   */
  public static WsClient connectAdmitted(URI uri) {
    long deadline = System.nanoTime() + ADMISSION_TIMEOUT.toNanos();
    while (true) {
      try {
        return connect(uri);
      } catch (CompletionException e) {
        if (!(e.getCause() instanceof WebSocketHandshakeException h)
            || h.getResponse().statusCode() != SERVICE_UNAVAILABLE
            || System.nanoTime() - deadline > 0) {
          throw e;
        }
        long seconds = h.getResponse().headers().firstValue("Retry-After").map(Long::parseLong).orElse(1L);
        try {
          TimeUnit.SECONDS.sleep(seconds); // what the refusal asks of every client
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  /** The client if the upgrade was accepted, empty if it was refused with an HTTP status. */
  public static Optional<WsClient> tryConnect(URI uri) {
    try {
      return Optional.of(connect(uri));
    } catch (CompletionException e) {
      if (e.getCause() instanceof WebSocketHandshakeException) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** The HTTP status of a refused upgrade, or 101 when the WebSocket opened. */
  public static int handshakeStatus(URI uri, Map<String, String> headers) {
    return handshake(uri, headers).status();
  }

  /** How an upgrade was answered: its status, and the Retry-After header of a refusal. */
  public record Handshake(int status, Optional<String> retryAfter) {}

  /** Tries an upgrade; a WebSocket that opened is closed again at once (status 101). */
  public static Handshake handshake(URI uri, Map<String, String> headers) {
    try {
      WsClient c = connect(uri, headers);
      c.close();
      return new Handshake(SWITCHING_PROTOCOLS, Optional.empty());
    } catch (CompletionException e) {
      if (e.getCause() instanceof WebSocketHandshakeException h) {
        return new Handshake(h.getResponse().statusCode(), h.getResponse().headers().firstValue("Retry-After"));
      }
      throw e;
    }
  }

  private static final int SWITCHING_PROTOCOLS = 101;
  private static final int SERVICE_UNAVAILABLE = 503;
  /** how long {@link #connectAdmitted} keeps coming back after refusals */
  public static final Duration ADMISSION_TIMEOUT = Duration.ofSeconds(60);

  public void sendJson(String json) {
    ws.sendText(json, true).join();
  }

  public void send(ClientFrame frame) {
    sendBinary(frame.toByteArray());
  }

  public void sendBinary(byte[] bytes) {
    ws.sendBinary(ByteBuffer.wrap(bytes), true).join();
  }

  /** The next not-yet-consumed frame that matches; frames before it that do not match stay available. */
  public ServerFrame expect(Predicate<ServerFrame> condition, String what) {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    synchronized (frames) {
      while (true) {
        for (int i = consumed; i < frames.size(); i++) {
          if (frames.get(i) != null && condition.test(frames.get(i))) {
            ServerFrame f = frames.get(i);
            frames.set(i, null); // consumed
            while (consumed < frames.size() && frames.get(consumed) == null) {
              consumed++;
            }
            return f;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || closeCode.isDone() && !hasUnconsumed(condition)) {
          throw new AssertionError("no frame: " + what + "; unconsumed: " + unconsumed() + "; closed: " + closeCode.getNow(null));
        }
        try {
          frames.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted", e);
        }
      }
    }
  }

  private boolean hasUnconsumed(Predicate<ServerFrame> condition) {
    return frames.stream().skip(consumed).anyMatch(f -> f != null && condition.test(f));
  }

  public ServerFrame welcome() {
    return expect(ServerFrame::hasWelcome, "welcome");
  }

  public ServerFrame expectError(String ref, String code) {
    return expect(f -> f.hasError() && f.getError().getRef().equals(ref) && f.getError().getCode().equals(code), "error " + code + " for '" + ref + "'");
  }

  public ServerFrame expectAccepted(String clientMsgId) {
    return expect(f -> f.hasAccepted() && f.getAccepted().getClientMsgId().equals(clientMsgId), "accepted " + clientMsgId);
  }

  /** The ok result of group operation {@code requestId} (an error for it fails the test). */
  public ServerFrame expectResult(String requestId) {
    ServerFrame f = expect(
        x -> x.hasResult() && x.getResult().getRequestId().equals(requestId) || x.hasError() && x.getError().getRef().equals(requestId),
        "result " + requestId);
    if (!f.hasResult() || !f.getResult().getOk()) {
      throw new AssertionError("expected result " + requestId + ", got " + f);
    }
    return f;
  }

  /** Asks for a page of {@code stream} and waits for it. */
  public org.imrouter.protocol.v1.History sync(String stream, long afterSeq, int limit) {
    send(ClientFrame.newBuilder()
        .setSync(org.imrouter.protocol.v1.Sync.newBuilder().setStream(stream).setAfterSeq(afterSeq).setLimit(limit))
        .build());
    return expect(f -> f.hasHistory() && f.getHistory().getStream().equals(stream), "history of " + stream).getHistory();
  }

  /** A ping/pong round trip: every frame the server queued before the pong has arrived. */
  public void roundTrip(long nonce) {
    sendJson("{\"ping\":{\"nonce\":" + nonce + "}}");
    expect(f -> f.hasPong() && f.getPong().getNonce() == nonce, "pong " + nonce);
  }

  /** Frames not consumed by an {@link #expect} so far. */
  public List<ServerFrame> unconsumed() {
    synchronized (frames) {
      return frames.stream().skip(consumed).filter(f -> f != null).toList();
    }
  }

  /** WebSocket pings the server sent (the JDK client answers each with a pong by itself). */
  public int pingsReceived() {
    return pings.get();
  }

  /** Whether the server has closed the connection (or it failed). */
  public boolean isClosed() {
    return closeCode.isDone();
  }

  /** Whether the last frame received came as a binary message. */
  public boolean lastWasBinary() {
    synchronized (frames) {
      return binaryFlags.get(binaryFlags.size() - 1);
    }
  }

  /** The close code the server sent (waits for it). */
  public int awaitClose() {
    return closeCode.orTimeout(TIMEOUT.toSeconds(), TimeUnit.SECONDS).join();
  }

  /** The reason of the server's close frame (waits for it; empty when the connection failed). */
  public String awaitCloseReason() {
    awaitClose();
    return closeReason;
  }

  @Override
  public void close() {
    if (!ws.isOutputClosed()) {
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye");
    }
    ws.abort();
  }

  private void add(ServerFrame frame, boolean binary) {
    synchronized (frames) {
      frames.add(frame);
      binaryFlags.add(binary);
      frames.notifyAll();
    }
  }

  private WebSocket.Listener listener() {
    return new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        textPart.append(data);
        if (last) {
          ServerFrame.Builder b = ServerFrame.newBuilder();
          try {
            JsonFormat.parser().merge(textPart.toString(), b);
          } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("server sent invalid JSON: " + textPart, e);
          }
          textPart.setLength(0);
          add(b.build(), false);
        }
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        ByteBuffer joined = ByteBuffer.allocate(binaryPart.remaining() + data.remaining());
        joined.put(binaryPart).put(data).flip();
        binaryPart = joined;
        if (last) {
          try {
            add(ServerFrame.parseFrom(binaryPart), true);
          } catch (InvalidProtocolBufferException e) {
            throw new AssertionError("server sent invalid protobuf", e);
          }
          binaryPart = ByteBuffer.allocate(0);
        }
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
        pings.incrementAndGet();
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        closeReason = reason;
        closeCode.complete(statusCode);
        synchronized (frames) {
          frames.notifyAll();
        }
        return null;
      }

      @Override
      public void onError(WebSocket webSocket, Throwable error) {
        if (!closeCode.isDone()) {
          closeReason = "";
        }
        closeCode.complete(-1);
        synchronized (frames) {
          frames.notifyAll();
        }
      }
    };
  }
}
