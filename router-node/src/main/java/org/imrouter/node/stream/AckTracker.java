package org.imrouter.node.stream;

import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The sender's side of {@link Outbox} transfers that lives outside the journal: the highest
 * counter each receiver confirmed, when that last advanced, and which gap was last resent.
 * Losing it (a restart) is harmless: everything still in the outbox is resent and dropped by
 * receivers that already have it.
 */
public final class AckTracker {
  private final Clock clock;
  private final long retryMillis;
  private final Map<String, Long> acked = new HashMap<>();
  private final Map<String, Long> progressAt = new HashMap<>();
  private final Map<String, Long> gapResentFrom = new HashMap<>();

  public AckTracker(Clock clock, long retryMillis) {
    this.clock = clock;
    this.retryMillis = retryMillis;
  }

  /** Confirmed counters per receiver, for pruning the outbox. */
  public Map<String, Long> acked() {
    return acked;
  }

  public long ackedFor(String receiver) {
    return acked.getOrDefault(receiver, 0L);
  }

  /** Call when a transfer goes out; starts the retry clock if nothing was in flight. */
  public void sent(String receiver, long counter) {
    if (counter == ackedFor(receiver) + 1) {
      progressAt.put(receiver, clock.millis());
    }
  }

  /**
   * Records an ack; returns the counter to resend after when the receiver reported a gap that
   * was not resent yet, else -1.
   */
  public long onAck(TransferAck ack) {
    long known = ackedFor(ack.receiver());
    if (ack.counter() > known) {
      acked.put(ack.receiver(), ack.counter());
      progressAt.put(ack.receiver(), clock.millis());
    }
    if (ack.behind() && gapResentFrom.getOrDefault(ack.receiver(), -1L) != ack.counter()) {
      gapResentFrom.put(ack.receiver(), ack.counter());
      return Math.max(ack.counter(), known);
    }
    return -1;
  }

  /** Resends (through {@code resend(receiver, afterCounter)}) to receivers stalled for a retry interval. */
  public <T> void resendStalled(Outbox<T> outbox, BiConsumer<String, Long> resend) {
    long now = clock.millis();
    for (String receiver : outbox.pending().keySet()) {
      long after = ackedFor(receiver);
      if (!outbox.unacked(receiver, after).isEmpty() && now - progressAt.getOrDefault(receiver, 0L) >= retryMillis) {
        progressAt.put(receiver, now);
        resend.accept(receiver, after);
      }
    }
  }

  /** Resends everything unconfirmed (after a recovery). */
  public <T> void resendAll(Outbox<T> outbox, BiConsumer<String, Long> resend) {
    for (String receiver : outbox.pending().keySet()) {
      resend.accept(receiver, ackedFor(receiver));
    }
  }
}
