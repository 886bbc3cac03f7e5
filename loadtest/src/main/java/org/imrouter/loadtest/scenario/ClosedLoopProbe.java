package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.Send;

/**
 * The one-write-at-a-time rate: one sender, closed loop (send, wait for accepted, send the
 * next). It is what an entity that persists one command at a time would allow, and the yardstick
 * of DESIGN §9's hot-entity target (≥ 20× this).
 */
public final class ClosedLoopProbe implements SessionListener {
  /** What one probe measured; {@code errors} counts sends answered with an error. */
  public record Rate(String to, long accepted, long errors, double perSecond) {}

  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);

  private final Map<String, CompletableFuture<Boolean>> waiting = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();

  Rate run(ClientSession sender, String to, Duration length) throws InterruptedException {
    long accepted = 0;
    long errors = 0;
    long start = System.nanoTime();
    long end = start + length.toNanos();
    while (System.nanoTime() < end) {
      String id = "probe-m" + ids.incrementAndGet();
      CompletableFuture<Boolean> answer = new CompletableFuture<>();
      waiting.put(id, answer);
      ClientFrame frame = ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId(id).setTo(to).setText(id)).build();
      try {
        if (!sender.send(frame) || !answer.get(ANSWER_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          errors++;
        } else {
          accepted++;
        }
      } catch (ExecutionException | TimeoutException e) {
        errors++;
      } finally {
        waiting.remove(id);
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return new Rate(to, accepted, errors, accepted / seconds);
  }

  @Override
  public void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {
    CompletableFuture<Boolean> f = waiting.get(accepted.getClientMsgId());
    if (f != null) {
      f.complete(true);
    }
  }

  @Override
  public void onError(ClientSession session, String ref, String code, long nowNanos) {
    CompletableFuture<Boolean> f = waiting.get(ref);
    if (f != null) {
      f.complete(false);
    }
  }
}
