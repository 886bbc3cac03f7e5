package org.imrouter.node.ws;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
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
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Serves a WebSocket whose handler can choose the close code.
 *
 * <p>Why this exists: Pekko HTTP's public handler API closes with 1000 when the handler completes
 * and 1011 when it fails, whatever the reason, and the protocol promises clients specific codes
 * (1009 too big, 1001 going away, 4008 slow consumer). So this assembles Pekko's standard
 * message stack itself (the same {@code WebSocket.stack} the public API uses) and rewrites the
 * outgoing close frame when the handler asked for a code. It uses Pekko HTTP internals (pinned
 * by the version in the parent POM); {@code WebSocketCloseCodesTest} fails if an upgrade breaks it.
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
      ClassicActorSystemProvider system) {
    WebSocketSettings settings = ServerSettings.apply(system.classicSystem().settings().config()).websocketSettings();
    LoggingAdapter log = Logging.getLogger(system.classicSystem(), ClosingWebSocket.class);
    Flow<FrameEvent, FrameEvent, ?> frames =
        Flow.fromMaterializer((mat, attrs) -> connection(handlerFactory, settings, log));
    return ((UpgradeToWebSocketLowLevel) upgrade).handleFrames((Graph) frames, Option.empty());
  }

  private static Flow<FrameEvent, FrameEvent, NotUsed> connection(
      Function<BiConsumer<Integer, String>, Graph<FlowShape<Message, Message>, ?>> handlerFactory,
      WebSocketSettings settings,
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
    return Flow.fromGraph(stack)
        .map(
            frame -> {
              CloseRequest close = requested.get();
              boolean isClose = frame instanceof FrameStart start && start.header().opcode().code() == CLOSE_OPCODE;
              return close != null && isClose ? FrameEvent.closeFrame(close.code, close.reason, Option.empty()) : frame;
            });
  }

  private static final int CLOSE_OPCODE = 0x8;
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
