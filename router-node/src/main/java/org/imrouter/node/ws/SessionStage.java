package org.imrouter.node.ws;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent$;
import org.apache.pekko.http.impl.engine.ws.FrameHandler;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.Protocol;
import org.apache.pekko.http.impl.engine.ws.Protocol$Opcode$Binary$;
import org.apache.pekko.http.impl.engine.ws.Protocol$Opcode$Ping$;
import org.apache.pekko.http.impl.engine.ws.Protocol$Opcode$Text$;
import org.apache.pekko.http.impl.engine.ws.WebSocket;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.imrouter.node.delivery.Session;
import scala.Option;
import scala.runtime.BoxedUnit;

/**
 * One WebSocket connection's whole application side, in one stream stage: it assembles client
 * messages from frame parts, decodes them and hands them to the connection's {@link Session}
 * one at a time (the session acks each), and turns what the session sends into frames, with a
 * bounded outbound buffer, server pings and the close code the session asked for.
 *
 * <p>Why one stage: Pekko HTTP's message API builds about 70 stream stages, a substream per
 * incoming message and two extra stream actors (an actor source and the handler) for every
 * connection, and ticks a timer every 3 s on each. That was most of the heap per idle connection
 * and of the CPU per connect (BENCHMARKS.md, "Connections"). This stage sits directly on Pekko's
 * frame handling ({@code WebSocket.frameHandling}: control frames, UTF-8, close handshake), is the
 * session's output actor itself (its stage actor), and sends the same events Pekko's message API
 * sends to the close handshake below it.
 *
 * <p>Input is Pekko's {@code FrameHandler.Output}; output is {@code FrameOutHandler.Input}: data
 * frames, control answers passed through, {@code ActivelyCloseWithCode} to close with a code,
 * {@code UserHandlerCompleted} after the peer closed, and ticks that let the close handshake time
 * out.
 */
final class SessionStage extends GraphStage<FlowShape<Object, Object>> {

  /**
   * @param maxMessageBytes a client message over this is refused (the session closes with 1009)
   * @param outboundBuffer frames waiting for the client past this close it with 4008
   * @param outboundBytes so do frames waiting past this many bytes (pipelined syncs of large
   *     pages once held 100 MB for a client that did not read)
   * @param pingInterval the server pings the client this often, whatever else it sends
   * @param closeTimeout after our close frame, how long to wait for the client's
   * @param readTimeout a message sent in parts must be complete within this, or the connection is
   *     closed with 1008
   */
  record Settings(
      int maxMessageBytes, int outboundBuffer, long outboundBytes, Duration pingInterval, Duration closeTimeout, Duration readTimeout) {}

  /** Starts the connection's session with the stage as its output, and hears when it ended. */
  interface Connector {
    ActorRef<Session.Command> start(ActorRef<Session.Out> out);

    void ended(ActorRef<Session.Command> session);
  }

  /**
   * The one stage instance serves every connection (the stream blueprint is built once); what
   * differs per connection comes in as this attribute.
   */
  record ConnectorAttribute(Connector connector) implements Attributes.Attribute {}

  /** Attributes that give one connection's materialization its connector. */
  static Attributes forConnection(Connector connector) {
    return Attributes.apply(new ConnectorAttribute(connector));
  }

  /**
   * Control answers (pongs) waiting for the client before the stage stops reading: a client that
   * pings without reading cannot grow the queue.
   */
  private static final int MAX_PENDING_CONTROL = 16;

  /** One shared ping frame (server frames are unmasked, and an empty payload is enough). */
  private static final FrameStart PING =
      FrameEvent$.MODULE$.fullFrame(Protocol$Opcode$Ping$.MODULE$, Option.empty(), ByteString.emptyByteString(), true, false, false, false);

  /** A Java char (UTF-16 unit) never takes more than 3 UTF-8 bytes (surrogate pairs: 4 per 2). */
  private static final int MAX_UTF8_BYTES_PER_CHAR = 3;

  private static final Object TICK = WebSocket.Tick$.MODULE$;
  private static final String PING_TIMER = "ping";
  private static final String CLOSE_TIMER = "close-tick";
  private static final String READ_TIMER = "read-timeout";

  private final Inlet<Object> in = Inlet.create("SessionStage.in");
  private final Outlet<Object> out = Outlet.create("SessionStage.out");
  private final FlowShape<Object, Object> shape = FlowShape.of(in, out);
  private final Settings settings;

  SessionStage(Settings settings) {
    this.settings = settings;
  }

  @Override
  public FlowShape<Object, Object> shape() {
    return shape;
  }

  @Override
  public TimerGraphStageLogic createLogic(Attributes attributes) {
    ConnectorAttribute attribute =
        attributes
            .getAttribute(ConnectorAttribute.class)
            .orElseThrow(() -> new IllegalStateException("SessionStage materialized without forConnection(...)"));
    return new Logic(attribute.connector());
  }

  private final class Logic extends TimerGraphStageLogic {
    private final Connector connector;
    /** Events waiting for the client, in order: data frames and control events. */
    private final ArrayDeque<Object> pending = new ArrayDeque<>();
    /** Data frames in {@link #pending}; the rest are control events (pongs, pings, closes). */
    private int pendingFrames;
    private long pendingBytes;
    private boolean pingPending;

    private ActorRef<Session.Command> session;
    private ActorRef<Session.Ack> ackRef;
    private boolean sessionTold;
    private boolean awaitingAck;
    /** A close was started (by either side): no more data either way. */
    private boolean closing;
    private boolean completeWhenDrained;

    // the message being assembled from parts
    private StringBuilder text;
    private ByteString bytes = ByteString.emptyByteString();
    private long messageBytes;
    private boolean assembling;
    private boolean discarding;

    Logic(Connector connector) {
      super(shape);
      this.connector = connector;
      setHandler(
          in,
          new AbstractInHandler() {
            @Override
            public void onPush() {
              onEvent(grab(in));
              maybePull();
            }

            @Override
            public void onUpstreamFinish() {
              endSession();
              if (pending.isEmpty()) {
                completeStage();
              } else {
                completeWhenDrained = true;
              }
            }

            @Override
            public void onUpstreamFailure(Throwable ex) {
              failStage(ex); // the close handshake below answers a protocol error with 1002
            }
          });
      setHandler(
          out,
          new AbstractOutHandler() {
            @Override
            public void onPull() {
              pushNext();
              if (completeWhenDrained && pending.isEmpty()) {
                completeStage();
              } else {
                maybePull();
              }
            }

            @Override
            public void onDownstreamFinish(Throwable cause) {
              completeStage();
            }
          });
    }

    @Override
    public void preStart() {
      ActorRef<Object> self = Adapter.toTyped(getStageActor(this::onActorMessage).ref());
      ackRef = self.unsafeUpcast();
      session = connector.start(self.unsafeUpcast());
      scheduleWithFixedDelay(PING_TIMER, settings.pingInterval(), settings.pingInterval());
      pull(in);
    }

    @Override
    public void postStop() {
      endSession();
    }

    // ---------------------------------------------------------------- from the client

    private void onEvent(Object event) {
      if (event instanceof FrameHandler.MessageDataPart part) {
        onData(part);
      } else if (event instanceof FrameHandler.PeerClosed closed) {
        // Pekko's message API: pass the peer's close on, then end the handler normally (the
        // handshake below answers with the same code) unless the code was an error
        enqueue(closed);
        boolean error = closed.code().isDefined() && Protocol.CloseCodes$.MODULE$.isError((Integer) closed.code().get());
        if (!error) {
          enqueue(FrameHandler.UserHandlerCompleted$.MODULE$);
        }
        closing = true;
        endSession();
      } else if (event instanceof FrameHandler.ActivelyCloseWithCode close) {
        // the frame layer found a protocol error and closes
        enqueue(close);
        startClosing();
        endSession();
      } else if (event instanceof FrameHandler.BypassEvent) {
        enqueue(event); // pongs to the client's pings
      }
    }

    private void onData(FrameHandler.MessageDataPart part) {
      if (closing) {
        return;
      }
      boolean last = part.last();
      if (!last && !assembling) {
        assembling = true;
        scheduleOnce(READ_TIMER, settings.readTimeout());
      }
      if (!discarding) {
        if (part instanceof FrameHandler.TextMessagePart t) {
          messageBytes += t.data().length(); // chars ≤ UTF-8 bytes: a cheap first bound
          if (last && text == null && messageBytes <= settings.maxMessageBytes()) {
            deliver(decodeText(t.data())); // the common case: a message in one frame
            messageBytes = 0;
            return;
          }
          if (messageBytes <= settings.maxMessageBytes()) {
            (text == null ? text = new StringBuilder() : text).append(t.data());
          }
        } else if (part instanceof FrameHandler.BinaryMessagePart b) {
          messageBytes += b.data().size();
          if (messageBytes <= settings.maxMessageBytes()) {
            bytes = bytes.concat(b.data());
          }
        }
        if (messageBytes > settings.maxMessageBytes()) {
          // refuse as soon as the limit is passed, without reading the rest into memory
          discard();
          deliver(Session.Oversized.INSTANCE);
        }
      }
      if (last) {
        if (!discarding) {
          deliver(text != null ? decodeText(text.toString()) : FrameCodec.fromProtobuf(bytes));
        }
        cancelTimer(READ_TIMER);
        text = null;
        bytes = ByteString.emptyByteString();
        messageBytes = 0;
        discarding = false;
        assembling = false;
      }
    }

    /**
     * The char count bounded the text from below; its UTF-8 size is the limit that holds, and
     * needs encoding only when the text could be over it (a char takes at most 3 UTF-8 bytes).
     */
    private Session.Command decodeText(String json) {
      boolean over =
          (long) json.length() * MAX_UTF8_BYTES_PER_CHAR > settings.maxMessageBytes()
              && json.getBytes(StandardCharsets.UTF_8).length > settings.maxMessageBytes();
      return over ? Session.Oversized.INSTANCE : FrameCodec.fromJson(json);
    }

    /** Drops the message being assembled; its remaining parts are read and ignored. */
    private void discard() {
      discarding = true;
      text = null;
      bytes = ByteString.emptyByteString();
      cancelTimer(READ_TIMER);
    }

    private void deliver(Session.Command command) {
      session.tell(new Session.Incoming(ackRef, command));
      awaitingAck = true;
    }

    private void maybePull() {
      if (!awaitingAck && pending.size() - pendingFrames < MAX_PENDING_CONTROL && !hasBeenPulled(in) && !isClosed(in)) {
        pull(in);
      }
    }

    // ---------------------------------------------------------------- from the session

    private BoxedUnit onActorMessage(scala.Tuple2<org.apache.pekko.actor.ActorRef, Object> message) {
      Object m = message._2();
      if (m instanceof Session.OutFrame frame) {
        onFrame(frame);
      } else if (m instanceof Session.OutClose close) {
        // after the frames already queued; the session stops once told the client is gone
        closeWith(close.code(), close.reason());
        endSession();
      } else if (m == Session.Ack.INSTANCE) {
        awaitingAck = false;
        maybePull();
      }
      return BoxedUnit.UNIT;
    }

    private void onFrame(Session.OutFrame frame) {
      if (closing) {
        return;
      }
      ByteString payload = FrameCodec.encode(frame.frame(), frame.binary());
      if (pendingFrames >= settings.outboundBuffer() || pendingBytes + payload.size() > settings.outboundBytes()) {
        // the client does not read: drop what it has not taken and tell it to reconnect and sync
        pending.removeIf(e -> e instanceof FrameStart); // the queued ping too
        pendingFrames = 0;
        pendingBytes = 0;
        pingPending = false;
        closeWith(Session.CloseCodes.SLOW_CONSUMER, "slow consumer: reconnect and sync");
        endSession();
        return;
      }
      FrameStart start =
          FrameEvent$.MODULE$.fullFrame(
              frame.binary() ? Protocol$Opcode$Binary$.MODULE$ : Protocol$Opcode$Text$.MODULE$,
              Option.empty(),
              payload,
              true,
              false,
              false,
              false);
      pendingFrames++;
      pendingBytes += payload.size();
      enqueue(start);
    }

    private void closeWith(int code, String reason) {
      if (closing) {
        return;
      }
      enqueue(new FrameHandler.ActivelyCloseWithCode(Option.apply(code), reason));
      startClosing();
    }

    private void startClosing() {
      closing = true;
      // the close handshake below times out on these ticks if the client never answers
      scheduleWithFixedDelay(CLOSE_TIMER, settings.closeTimeout(), settings.closeTimeout());
    }

    private void endSession() {
      if (!sessionTold && session != null) {
        sessionTold = true;
        session.tell(Session.ClientGone.INSTANCE);
        connector.ended(session);
      }
    }

    // ---------------------------------------------------------------- to the client

    @Override
    public void onTimer(Object key) {
      if (PING_TIMER.equals(key)) {
        if (!closing && !pingPending) {
          pingPending = true;
          enqueue(PING);
        }
      } else if (CLOSE_TIMER.equals(key) && pending.isEmpty() && isAvailable(out)) {
        push(out, TICK);
      } else if (READ_TIMER.equals(key) && !closing) {
        // a client trickling the parts of one message must not hold its buffer for ever; the
        // frame layer expects the rest of that message, so the connection cannot go on
        discard();
        closeWith(Session.CloseCodes.POLICY_VIOLATION, "message not complete within " + settings.readTimeout().toSeconds() + " s");
        endSession();
      }
    }

    private void enqueue(Object event) {
      pending.add(event);
      if (isAvailable(out)) {
        pushNext();
      }
    }

    private void pushNext() {
      Object next = pending.poll();
      if (next == null) {
        return;
      }
      if (next == PING) {
        pingPending = false;
      } else if (next instanceof FrameStart start) {
        pendingFrames--;
        pendingBytes -= start.data().size();
      }
      push(out, next);
    }
  }
}
