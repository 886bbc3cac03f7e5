package org.imrouter.node.ws;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.delivery.NodeLoad;
import org.imrouter.node.delivery.ReconnectBackoff;
import org.imrouter.node.delivery.TokenBucket;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * How fast this node takes on new sessions: one token of a node-wide bucket per authenticated
 * WebSocket upgrade (router.http.session-admissions-per-second and -burst). An upgrade beyond the
 * rate is answered 503 with a Retry-After drawn from the reconnect window, before a session
 * actor or an entity exists, so refusing costs about what the JWT check before it did.
 *
 * <p>Why a rate and not another cap: max-connections, connections-per-user and the pre-auth cap
 * bound how many connections a node holds, not how fast it takes them on, and a survivor of a
 * drain or a lost node is hurt by the rate (every admitted session wakes the user's entity and
 * reads its groups while the node's own sessions wait). A refused client comes back within
 * seconds and the bucket refills, so nobody is kept out for long.
 *
 * <p>An overloaded node (NodeLoad) refuses every upgrade the same way until it has caught up.
 */
final class SessionAdmission {
  /** Says why in the same format as a close reason, for a reader of the body. */
  private static final String REFUSED = "new sessions over this node's admission rate, reconnect";
  private static final String OVERLOADED = "this node is overloaded, reconnect";

  private final TokenBucket bucket;
  private final ReconnectBackoff backoff;
  private final NodeLoad load;

  SessionAdmission(RouterSettings.Rate rate, ReconnectBackoff backoff, NodeLoad load) {
    this.bucket = new TokenBucket(rate.perSecond(), rate.burst(), System::nanoTime);
    this.backoff = backoff;
    this.load = load;
  }

  /**
   * Empty when a new session may start (it took a token); otherwise the 503 to answer, counted.
   * An overloaded node (NodeLoad) refuses without taking a token.
   */
  Optional<HttpResponse> refusal() {
    if (load.overloaded()) {
      RouterMetrics.sessionShed();
      return Optional.of(refusal(OVERLOADED));
    }
    // every connection of the port admits through this one bucket, on its own thread
    synchronized (bucket) {
      if (bucket.tryAcquire()) {
        return Optional.empty();
      }
    }
    RouterMetrics.sessionAdmissionRefused();
    return Optional.of(refusal(REFUSED));
  }

  private HttpResponse refusal(String why) {
    long seconds = backoff.nextSeconds();
    return HttpResponse.create()
        .withStatus(StatusCodes.SERVICE_UNAVAILABLE)
        .addHeader(RetryAfter.create(seconds))
        .withEntity(why + " " + ReconnectBackoff.HINT + TimeUnit.SECONDS.toMillis(seconds));
  }
}
