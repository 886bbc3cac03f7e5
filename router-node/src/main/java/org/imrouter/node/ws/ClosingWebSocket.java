package org.imrouter.node.ws;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.FrameEvent$;
import org.apache.pekko.http.impl.engine.ws.Protocol$Opcode$Ping$;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.impl.engine.ws.WebSocket$;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;
import org.apache.pekko.http.scaladsl.settings.WebSocketSettings;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.BufferOverflowException;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Graph;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Serves a WebSocket whose handler can choose the close code, and keeps it alive.
 *
 * <p>Why this exists: Pekko HTTP's public handler API closes with 1000 when the handler completes
 * and 1011 when it fails, whatever the reason, and the protocol promises clients specific codes
 * (1009 too big, 1001 going away, 4008 slow consumer). So this assembles Pekko's standard
 * message stack itself (the same {@code WebSocket.stack} the public API uses) and rewrites the
 * outgoing close frame when the handler asked for a code. It uses Pekko HTTP internals (pinned
 * by the version in the parent POM); {@code BadInputTest} (close codes) and {@code
 * ConnectionLifetimeTest} (keep-alive) fail if an upgrade breaks it.
 *
 * <p>Keep-alive: the server pings every connection at a fixed interval and drops a connection
 * from which nothing at all arrived (not even a pong) for the dead-peer timeout. Pekko's own
 * keep-alive pings only when the server sent nothing, so a client that only receives would never
 * be pinged, would never answer, and could not be told apart from a dead one.
 */
final class ClosingWebSocket {
  /** How long to wait for the peer's close frame after ours. */
  private static final FiniteDuration CLOSE_TIMEOUT = FiniteDuration.apply(3, TimeUnit.SECONDS);

  /** Close code when the outbound buffer overflowed. */
  static final int SLOW_CONSUMER = 4008;

  private ClosingWebSocket() {}

  /**
   * @param handlerFactory builds one connection's handler; it gets a "closer" to call with
   *     (code, reason) just before completing its output normally. Failing the handler with a
   *     {@link CloseRequest} works too (but may overtake messages still in flight).
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static HttpResponse handle(
      WebSocketUpgrade upgrade,
      Function<BiConsumer<Integer, String>, Graph<FlowShape<Message, Message>, ?>> handlerFactory,
      KeepAlive keepAlive,
      ClassicActorSystemProvider system) {
    WebSocketSettings settings = ServerSettings.apply(system.classicSystem().settings().config()).websocketSettings();
    LoggingAdapter log = Logging.getLogger(system.classicSystem(), ClosingWebSocket.class);
    Flow<FrameEvent, FrameEvent, ?> frames =
        Flow.fromMaterializer((mat, attrs) -> connection(handlerFactory, settings, keepAlive, log));
    return ((UpgradeToWebSocketLowLevel) upgrade).handleFrames((Graph) frames, Option.empty());
  }

  /**
   * @param interval the server pings every connection this often
   * @param deadPeerTimeout a connection with nothing incoming for this long is dropped
   */
  record KeepAlive(Duration interval, Duration deadPeerTimeout) {}

  private static Flow<FrameEvent, FrameEvent, NotUsed> connection(
      Function<BiConsumer<Integer, String>, Graph<FlowShape<Message, Message>, ?>> handlerFactory,
      WebSocketSettings settings,
      KeepAlive keepAlive,
      LoggingAdapter log) {
    AtomicReference<CloseRequest> requested = new AtomicReference<>();
    Graph<FlowShape<Message, Message>, ?> handler =
        handlerFactory.apply((code, reason) -> requested.set(new CloseRequest(code, reason)));
    Flow<org.apache.pekko.http.scaladsl.model.ws.Message, org.apache.pekko.http.scaladsl.model.ws.Message, NotUsed> messages =
        Flow.<org.apache.pekko.http.scaladsl.model.ws.Message>create()
            .map(Message::adapt)
            .via(handler)
            .map(Message::asScala)
            .recoverWithRetries(
                1,
                new PFBuilder<Throwable, Graph<SourceShape<org.apache.pekko.http.scaladsl.model.ws.Message>, NotUsed>>()
                    .match(
                        Throwable.class,
                        t -> closeFor(t) != null,
                        t -> {
                          requested.set(closeFor(t));
                          return Source.empty(); // complete; the close frame is rewritten below
                        })
                    .build());
    org.apache.pekko.stream.scaladsl.Flow<FrameEvent, FrameEvent, NotUsed> stack =
        WebSocket$.MODULE$.stack(true, settings, CLOSE_TIMEOUT, log).join(messages.asScala());
    return Flow.<FrameEvent>create()
        // any incoming frame, pongs included, proves the peer is alive; failing here aborts the
        // connection, and the session sees the client gone
        .idleTimeout(keepAlive.deadPeerTimeout())
        .via(stack)
        .merge(Source.<FrameEvent>tick(keepAlive.interval(), keepAlive.interval(), PING), true)
        .statefulMapConcat(PingPlacement::new)
        .map(
            frame -> {
              CloseRequest close = requested.get();
              boolean isClose = frame instanceof FrameStart start && start.header().opcode().code() == CLOSE_OPCODE;
              return close != null && isClose ? FrameEvent.closeFrame(close.code, close.reason, Option.empty()) : frame;
            });
  }

  private static final int CLOSE_OPCODE = 0x8;
  /** One shared ping frame (server frames are unmasked, and an empty payload is enough). */
  private static final FrameStart PING =
      FrameEvent$.MODULE$.fullFrame(Protocol$Opcode$Ping$.MODULE$, Option.empty(), ByteString.emptyByteString(), true, false, false, false);

  /**
   * Lets a tick's ping onto the wire only between whole frames (never inside a frame split into
   * parts) and never after the close frame; a ping held back is simply skipped, the next tick
   * sends one.
   */
  private static final class PingPlacement implements org.apache.pekko.japi.function.Function<FrameEvent, Iterable<FrameEvent>> {
    private boolean insideFrame;
    private boolean closed;

    @Override
    public Iterable<FrameEvent> apply(FrameEvent frame) {
      if (frame == PING) {
        return insideFrame || closed ? List.of() : List.of(frame);
      }
      if (frame instanceof FrameStart start) {
        insideFrame = !start.lastPart();
        closed |= start.header().opcode().code() == CLOSE_OPCODE;
      } else {
        insideFrame = !frame.lastPart();
      }
      return List.of(frame);
    }
  }
  private static final int MAX_CAUSES = 10;

  private static CloseRequest closeFor(Throwable t) {
    for (int i = 0; t != null && i < MAX_CAUSES; t = t.getCause(), i++) {
      if (t instanceof CloseRequest c) {
        return c;
      }
      if (t instanceof BufferOverflowException) {
        return new CloseRequest(SLOW_CONSUMER, "slow consumer: reconnect and sync");
      }
    }
    return null;
  }
}
