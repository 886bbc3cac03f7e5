package org.imrouter.node.ws;

import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.imrouter.node.config.RouterSettings;
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
 */
final class SessionAdmission {
  /** Says why in the same format as a close reason, for a reader of the body. */
  private static final String REFUSED = "new sessions over this node's admission rate, reconnect";

  private final TokenBucket bucket;
  private final ReconnectBackoff backoff;

  SessionAdmission(RouterSettings.Rate rate, ReconnectBackoff backoff) {
    this.bucket = new TokenBucket(rate.perSecond(), rate.burst(), System::nanoTime);
    this.backoff = backoff;
  }

  /** Takes a token for a new session; false when over the rate. */
  boolean tryAdmit() {
    // every connection of the port admits through this one bucket, on its own thread
    synchronized (bucket) {
      return bucket.tryAcquire();
    }
  }

  /** The answer to an upgrade over the rate (counted as refused). */
  HttpResponse refusal() {
    RouterMetrics.sessionAdmissionRefused();
    long seconds = backoff.nextSeconds();
    return HttpResponse.create()
        .withStatus(StatusCodes.SERVICE_UNAVAILABLE)
        .addHeader(RetryAfter.create(seconds))
        .withEntity(REFUSED + " " + ReconnectBackoff.HINT + TimeUnit.SECONDS.toMillis(seconds));
  }
}
