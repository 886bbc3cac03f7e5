package org.imrouter.loadtest.client;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.model.headers.Authorization;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.PeerClosedConnectionException;
import org.apache.pekko.http.javadsl.model.ws.WebSocketRequest;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgradeResponse;
import org.apache.pekko.http.javadsl.settings.ClientConnectionSettings;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.imrouter.loadtest.check.Checks;

/**
 * Opens WebSocket sessions with the Pekko HTTP client, all in one actor system: a connection is
 * a few stream stages on shared dispatcher threads, not a thread, so one process holds tens of
 * thousands of them. Frames are binary protobuf ({@code ?encoding=binary}); the token goes in the
 * Authorization header. Pekko answers the server's pings itself.
 */
public final class WsConnector implements AutoCloseable {
  /** Frames a session may have queued for sending before {@link ClientSession#send} refuses. */
  static final int SEND_QUEUE_FRAMES = 4096;

  /** A frame split over several WebSocket frames is collected for at most this long. */
  private static final Duration STREAMED_FRAME_TIMEOUT = Duration.ofSeconds(10);

  private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

  /**
   * The client defaults close a connection that is silent for 60 s, which would end every idle
   * session of a long hold; the load generator decides itself how long a session lives.
   */
  private static final String CLIENT_CONFIG =
      """
      pekko.http.client.idle-timeout = infinite
      pekko.loglevel = WARNING
      pekko.stdout-loglevel = WARNING
      pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
      pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
      """;

  private final ActorSystem system;
  private final Materializer materializer;
  private final Http http;
  private final ClientConnectionSettings settings;
  private final Optional<InetSocketAddress> localAddress;

  /** @param localHost the client's source address (e.g. 127.0.0.2), to spread ephemeral ports */
  public WsConnector(String name, Optional<String> localHost) {
    Config config = ConfigFactory.parseString(CLIENT_CONFIG).withFallback(ConfigFactory.load());
    this.system = ActorSystem.create(name, config);
    this.materializer = Materializer.matFromSystem(system);
    this.http = Http.get(system);
    this.localAddress = localHost.map(h -> new InetSocketAddress(h, 0));
    this.settings = ClientConnectionSettings.create(system).withLocalAddress(localAddress);
  }

  /**
   * Starts connecting; the session's {@link ClientSession#welcome()} completes when the server
   * has welcomed it, or fails if the connection is refused or ends first.
   */
  public ClientSession open(String url, String sessionId, String user, String token, Checks checks, SessionListener listener) {
    ClientSession session = new ClientSession(sessionId, user, checks, listener);
    Sink<Message, CompletionStage<Done>> incoming =
        Flow.<Message>create()
            .filter(m -> !m.isText())
            .mapAsync(1, this::bytes)
            .toMat(Sink.foreach(session::onBytes), Keep.right());
    Source<Message, BoundedSourceQueue<Message>> outgoing = Source.queue(SEND_QUEUE_FRAMES);
    Flow<Message, Message, Pair<CompletionStage<Done>, BoundedSourceQueue<Message>>> flow =
        Flow.fromSinkAndSourceCoupledMat(incoming, outgoing, Keep.both());
    WebSocketRequest request =
        WebSocketRequest.create(binaryUrl(url)).addHeader(Authorization.oauth2(token));
    Pair<CompletionStage<WebSocketUpgradeResponse>, Pair<CompletionStage<Done>, BoundedSourceQueue<Message>>> started =
        http.singleWebSocketRequest(
            request,
            flow,
            url.startsWith("wss:") ? http.defaultClientHttpsContext() : ConnectionContext.noEncryption(),
            localAddress,
            settings,
            system.log(),
            materializer);
    session.attach(started.second().second());
    started
        .first()
        .whenComplete(
            (response, failure) -> {
              if (failure != null) {
                session.connectFailed(failure);
              } else if (!response.isValid()) {
                session.connectFailed(
                    new IllegalStateException("upgrade refused: " + response.response().status()));
              }
            });
    started
        .second()
        .first()
        .whenComplete((done, failure) -> session.ended(closeInfo(failure)));
    return session;
  }

  private static CloseInfo closeInfo(Throwable failure) {
    long now = System.nanoTime();
    if (failure == null) {
      return new CloseInfo(CloseInfo.NORMAL, "", now);
    }
    Throwable cause =
        failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (cause instanceof PeerClosedConnectionException closed) {
      return new CloseInfo(closed.closeCode(), closed.closeReason(), now);
    }
    return new CloseInfo(CloseInfo.ABNORMAL, cause.toString(), now);
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

  static String binaryUrl(String url) {
    return url + (url.contains("?") ? "&" : "?") + "encoding=binary";
  }

  @Override
  public void close() {
    try {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      // the run is over either way; a slow shutdown must not hide its results
    }
  }
}
