package org.imrouter.node.cluster;

import com.datastax.oss.driver.api.core.RequestThrottlingException;
import com.datastax.oss.driver.api.core.context.DriverContext;
import com.datastax.oss.driver.api.core.session.throttling.RequestThrottler;
import com.datastax.oss.driver.api.core.session.throttling.Throttled;
import com.datastax.oss.driver.internal.core.session.throttling.ConcurrencyLimitingRequestThrottler;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The Cassandra driver's request throttler with the write fence at its door: while a node of
 * this process is fenced ({@link MajorityFence#processMayWrite}), a request is refused just
 * before it would go to Cassandra, whether it arrives now or has waited in the queue. Otherwise
 * it is the driver's concurrency-limiting throttler (advanced.throttler.max-concurrent-requests,
 * max-queue-size).
 *
 * <p>Why here as well as in the entities: an entity checks the fence before it hands a batch to
 * the journal, but the write then passes the journal actor's mailbox and this queue before it
 * leaves the process. A node frozen in between (a GC pause, SIGSTOP) would send it after it
 * wakes, when its entities already live elsewhere: the same seq written by two incarnations,
 * which ClusterFaultTest saw once in two runs with the entity check alone. What remains is the
 * hop from here to the socket, microseconds (docs/decisions/0012).
 */
public final class FencedRequestThrottler implements RequestThrottler {
  private final ConcurrencyLimitingRequestThrottler queue;
  // the driver signals the request it registered; the queue knows the gate that wraps it
  private final Map<Throttled, Gate> gates = new ConcurrentHashMap<>();

  /** Called by the driver (datastax-java-driver.advanced.throttler.class). */
  public FencedRequestThrottler(DriverContext context) {
    this.queue = new ConcurrencyLimitingRequestThrottler(context);
  }

  private static RequestThrottlingException refusal() {
    return new RequestThrottlingException(MajorityFence.REFUSAL);
  }

  @Override
  public void register(Throttled request) {
    if (!MajorityFence.processMayWrite()) {
      request.onThrottleFailure(refusal());
      return;
    }
    Gate gate = new Gate(request);
    gates.put(request, gate);
    queue.register(gate);
  }

  @Override
  public void signalSuccess(Throttled request) {
    release(request, queue::signalSuccess);
  }

  @Override
  public void signalError(Throttled request, Throwable error) {
    release(request, gate -> queue.signalError(gate, error));
  }

  @Override
  public void signalTimeout(Throttled request) {
    release(request, queue::signalTimeout);
  }

  /** Passes the driver's word on a finished request to the queue, for the gate that held it. */
  private void release(Throttled request, Consumer<Gate> signal) {
    Gate gate = gates.remove(request);
    if (gate != null) {
      signal.accept(gate);
    }
  }

  @Override
  public void close() {
    queue.close();
  }

  /** What the queue holds for a request: the fence is checked again when its turn comes. */
  private final class Gate implements Throttled {
    private final Throttled request;

    Gate(Throttled request) {
      this.request = request;
    }

    @Override
    public void onThrottleReady(boolean wasDelayed) {
      if (MajorityFence.processMayWrite()) {
        request.onThrottleReady(wasDelayed);
        return;
      }
      RequestThrottlingException refused = refusal();
      gates.remove(request);
      queue.signalError(this, refused); // frees its slot: the driver does not signal a refused request
      request.onThrottleFailure(refused);
    }

    @Override
    public void onThrottleFailure(RequestThrottlingException error) {
      gates.remove(request);
      request.onThrottleFailure(error);
    }
  }
}
