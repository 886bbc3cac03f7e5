package org.imrouter.node.stream;

import io.vavr.collection.HashMap;
import io.vavr.collection.Vector;
import java.util.Map;

/**
 * At-least-once transfer of persisted items to other entities (a direct message to the
 * recipient's inbox, a membership notice to a user's inbox).
 *
 * <p>Each destination gets its own counter 1, 2, 3 …; the receiver accepts only the next
 * counter and answers with the highest it has stored (a cumulative ack), so resending is always
 * safe and order per (sender, receiver) pair is kept. Items stay here until an ack covers them.
 * Acks are not journal events (every event is a stream item), so after a recovery the outbox may
 * hold items that were already stored: they are resent and the receiver drops them.
 *
 * @param next the last counter assigned per destination
 * @param pending items not yet covered by an ack, per destination, in counter order
 */
public record Outbox<T>(HashMap<String, Long> next, HashMap<String, Vector<Pending<T>>> pending) {

  /** One item in flight to a destination. */
  public record Pending<T>(long counter, long seq, T item) {}

  public static <T> Outbox<T> empty() {
    return new Outbox<>(HashMap.empty(), HashMap.empty());
  }

  public long nextCounter(String destination) {
    return next.get(destination).getOrElse(0L) + 1;
  }

  /** Adds an item for {@code destination}; its counter must be {@link #nextCounter}. */
  public Outbox<T> add(String destination, long counter, long seq, T item) {
    Vector<Pending<T>> queue = pending.get(destination).getOrElse(Vector.empty());
    return new Outbox<>(
        next.put(destination, counter), pending.put(destination, queue.append(new Pending<>(counter, seq, item))));
  }

  /** Drops what the acks confirm; {@code acked} maps a destination to its highest stored counter. */
  public Outbox<T> prune(Map<String, Long> acked) {
    if (acked.isEmpty() || pending.isEmpty()) {
      return this;
    }
    HashMap<String, Vector<Pending<T>>> kept = pending;
    for (Map.Entry<String, Long> ack : acked.entrySet()) {
      Vector<Pending<T>> queue = kept.get(ack.getKey()).getOrNull();
      if (queue != null) {
        Vector<Pending<T>> rest = queue.dropWhile(p -> p.counter() <= ack.getValue());
        kept = rest.isEmpty() ? kept.remove(ack.getKey()) : kept.put(ack.getKey(), rest);
      }
    }
    return new Outbox<>(next, kept);
  }

  public boolean isEmpty() {
    return pending.isEmpty();
  }

  /** Items of {@code destination} above {@code ackedCounter}, oldest first. */
  public Vector<Pending<T>> unacked(String destination, long ackedCounter) {
    return pending.get(destination).getOrElse(Vector.empty()).filter(p -> p.counter() > ackedCounter);
  }
}
