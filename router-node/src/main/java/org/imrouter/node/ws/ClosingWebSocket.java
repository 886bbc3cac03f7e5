package org.imrouter.node.ws;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.impl.engine.ws.WebSocket$;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;
import org.apache.pekko.stream.Graph;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.javadsl.Flow;
import scala.Function0;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Serves a WebSocket connection with Pekko HTTP's frame protocol (framing, masking, control
 * frames, UTF-8 checks, the close handshake) and a {@link SessionStage} on top, in place of Pekko's
 * message API.
 *
 * <p>Why: the public handler API closes with 1000 when the handler completes and 1011 when it
 * fails, whatever the reason, and the protocol promises clients specific codes (1009 too big,
 * 1001 going away, 4008 slow consumer); and its message layer costs more per connection than the
 * rest of the connection together (see {@link SessionStage}). This uses Pekko HTTP internals
 * (pinned by the version in the parent POM); {@code BadInputTest} (close codes) and {@code
 * ConnectionLifetimeTest} (keep-alive) fail if an upgrade breaks it.
 *
 * <p>Dead peers: a connection from which nothing at all arrived (not even a pong to the server's
 * pings) for the dead-peer timeout is aborted, and its session sees the client gone.
 */
final class ClosingWebSocket {
  /** How long to wait for the peer's close frame after ours. */
  static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(3);

  /** Built once: materializing a prebuilt blueprint is cheaper than building one per connection. */
  private final Flow<FrameEvent, FrameEvent, NotUsed> frames;

  @SuppressWarnings({"unchecked", "rawtypes"})
  ClosingWebSocket(ClassicActorSystemProvider system, Duration deadPeerTimeout, SessionStage session) {
    Function0<java.util.Random> maskingRandom =
        ServerSettings.apply(system.classicSystem().settings().config()).websocketSettings().randomFactory();
    LoggingAdapter log = Logging.getLogger(system.classicSystem(), ClosingWebSocket.class);
    // masking and frame handling are Scala bidi flows whose Java types do not line up exactly
    // (FrameStart out where FrameEvent is expected); the raw casts only bridge that variance
    org.apache.pekko.stream.scaladsl.BidiFlow protocol =
        WebSocket$.MODULE$
            .masking(true, maskingRandom)
            .atop((Graph) WebSocket$.MODULE$.frameHandling(true, FiniteDuration.apply(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), log));
    org.apache.pekko.stream.scaladsl.Flow<FrameEvent, FrameEvent, NotUsed> stack =
        protocol.join((Graph) org.apache.pekko.stream.scaladsl.Flow.fromGraph(session));
    this.frames =
        Flow.<FrameEvent>create()
            // any incoming frame, pongs included, proves the peer is alive; failing here aborts
            // the connection
            .idleTimeout(deadPeerTimeout)
            .via((Graph<FlowShape<FrameEvent, FrameEvent>, NotUsed>) stack);
  }

  /** Completes the upgrade with the connection served by the session stage and this connector. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  HttpResponse handle(WebSocketUpgrade upgrade, SessionStage.Connector connector) {
    return ((UpgradeToWebSocketLowLevel) upgrade)
        .handleFrames((Graph) frames.addAttributes(SessionStage.forConnection(connector)), Option.empty());
  }
}
