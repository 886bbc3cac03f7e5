package org.imrouter.node.ws;

import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashSet;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * The pre-auth phase of a connection on the WebSocket port: from TCP accept until its upgrade is
 * answered with 101. Sits on the connection's responses, behind the route, and is materialized
 * with the connection (Pekko HTTP materializes the handler flow at accept, before a byte is read).
 * A connection still in the phase after the deadline is closed, and of all the connections in it
 * at most {@code cap} stay: one more closes the one that has waited longest.
 *
 * <p>Why here and not with Pekko HTTP settings: its idle-timeout covers the whole connection (an
 * upgraded WebSocket must survive hours between pings every 25 s, so it cannot be short), its
 * request-timeout starts only once a request has been parsed (a client that never finishes its
 * request line is not covered), and max-connections counts upgraded sessions too, so connections
 * that never authenticate could take every slot. Closing the oldest rather than refusing the newest
 * is what keeps valid clients in: a refusing cap is held full by anyone who reconnects faster than
 * the deadline, while a real handshake takes milliseconds and is never the oldest.
 *
 * <p>Closing completes the responses: the HTTP layer then closes the TCP connection (Pekko HTTP
 * logs a half-sent request line it was holding as an illegal request, as it does for any client
 * that closes mid-request). After the 101 the HTTP layer hands the connection to the WebSocket and
 * this stage stops with the HTTP part.
 */
final class PreAuthGuard extends GraphStage<FlowShape<HttpResponse, HttpResponse>> {
  private static final String DEADLINE = "pre-auth-deadline";
  /** Metric tag: closed because the deadline passed. */
  private static final String DEADLINE_PASSED = "deadline";
  /** Metric tag: closed to make room for a newer connection. */
  private static final String EVICTED = "evicted";

  private final Inlet<HttpResponse> in = Inlet.create("PreAuthGuard.in");
  private final Outlet<HttpResponse> out = Outlet.create("PreAuthGuard.out");
  private final FlowShape<HttpResponse, HttpResponse> shape = FlowShape.of(in, out);
  private final Duration timeout;
  private final Pending pending;

  /**
   * @param timeout how long a connection may stay in the pre-auth phase
   * @param cap most connections in the pre-auth phase at once, on this port
   */
  PreAuthGuard(Duration timeout, int cap) {
    this.timeout = timeout;
    this.pending = new Pending(cap);
  }

  @Override
  public FlowShape<HttpResponse, HttpResponse> shape() {
    return shape;
  }

  @Override
  public TimerGraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      private Runnable evict;
      private boolean upgraded;

      {
        setHandler(
            in,
            new AbstractInHandler() {
              @Override
              public void onPush() {
                HttpResponse response = grab(in);
                if (!upgraded && response.status().equals(StatusCodes.SWITCHING_PROTOCOLS)) {
                  upgraded = true;
                  cancelTimer(DEADLINE);
                  pending.remove(evict);
                }
                push(out, response);
              }
            });
        setHandler(
            out,
            new AbstractOutHandler() {
              @Override
              public void onPull() {
                pull(in);
              }
            });
      }

      @Override
      public void preStart() {
        AsyncCallback<String> close = createAsyncCallback(this::close);
        evict = () -> close.invoke(EVICTED);
        scheduleOnce(DEADLINE, timeout);
        Runnable oldest = pending.add(evict);
        if (oldest != null) {
          oldest.run();
        }
      }

      @Override
      public void onTimer(Object key) {
        close(DEADLINE_PASSED);
      }

      private void close(String reason) {
        if (!upgraded) {
          RouterMetrics.preAuthClosed(reason);
          completeStage();
        }
      }

      @Override
      public void postStop() {
        pending.remove(evict);
      }
    };
  }

  /**
   * The connections in the pre-auth phase, oldest first, each as the callback that closes it.
   * Shared by every connection of the port (their stages run on different threads), hence locked;
   * each operation is constant time.
   */
  private static final class Pending {
    private final int cap;
    private final LinkedHashSet<Runnable> closers = new LinkedHashSet<>();

    Pending(int cap) {
      this.cap = cap;
    }

    /** Adds a connection; returns the closer of the oldest one when that makes too many, else null. */
    synchronized Runnable add(Runnable closer) {
      closers.add(closer);
      if (closers.size() <= cap) {
        return null;
      }
      Iterator<Runnable> oldest = closers.iterator();
      Runnable evicted = oldest.next();
      oldest.remove();
      return evicted;
    }

    synchronized void remove(Runnable closer) {
      closers.remove(closer);
    }
  }
}
