package org.imrouter.node.stream;

import io.vavr.Tuple2;
import io.vavr.collection.HashMap;
import io.vavr.collection.Queue;
import io.vavr.collection.TreeSet;
import io.vavr.control.Option;
import java.util.Comparator;
import java.util.List;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.protocol.persist.Dedup;

/**
 * Remembers recent idempotency keys (clientMsgId) per sender of a stream and what they were
 * accepted as, so that a retried send is answered with the original {@link Reply.Accepted}
 * instead of creating a second item.
 *
 * <p>Each sender has a window of its own: at most {@code perSender} keys, each kept for at least
 * {@code maxAgeMillis} unless the sender's own newer keys push it out. So one member's retry is
 * recognised however much the others post. The whole stream holds at most {@code total} keys (a
 * bound on memory and snapshot size); past it the sender with the most keys loses its oldest,
 * which is the sender flooding the stream, never the quiet one.
 */
public final class DedupWindow {

  /** A remembered key: who sent it and what it was accepted as (the acceptance holds the key). */
  public record Entry(String sender, Reply.Accepted accepted) {}

  /** (keys held, sender): the last element is the sender with the most keys. */
  private static final Comparator<Tuple2<Integer, String>> BY_SIZE =
      Comparator.<Tuple2<Integer, String>, Integer>comparing(Tuple2::_1).thenComparing(Tuple2::_2);

  private final HashMap<String, HashMap<String, Reply.Accepted>> keysBySender;
  private final HashMap<String, Queue<String>> orderBySender;
  private final TreeSet<Tuple2<Integer, String>> sizes;
  private final int size;
  private final int perSender;
  private final int total;
  private final long maxAgeMillis;

  private DedupWindow(
      HashMap<String, HashMap<String, Reply.Accepted>> keysBySender,
      HashMap<String, Queue<String>> orderBySender,
      TreeSet<Tuple2<Integer, String>> sizes,
      int size,
      int perSender,
      int total,
      long maxAgeMillis) {
    this.keysBySender = keysBySender;
    this.orderBySender = orderBySender;
    this.sizes = sizes;
    this.size = size;
    this.perSender = perSender;
    this.total = total;
    this.maxAgeMillis = maxAgeMillis;
  }

  public static DedupWindow empty(int perSender, int total, long maxAgeMillis) {
    return new DedupWindow(HashMap.empty(), HashMap.empty(), TreeSet.empty(BY_SIZE), 0, perSender, total, maxAgeMillis);
  }

  /** The empty window with the entity bounds of {@code settings}. */
  public static DedupWindow empty(RouterSettings.EntitySettings settings) {
    return empty(settings.dedupPerSender(), settings.dedupEntries(), settings.dedupWindow().toMillis());
  }

  public Option<Reply.Accepted> find(String sender, String clientMsgId) {
    return keysBySender.get(sender).flatMap(keys -> keys.get(clientMsgId));
  }

  /** Keys held for all senders. */
  public int size() {
    return size;
  }

  /**
   * Records {@code accepted} (its clientMsgId is the key) for {@code sender}, then forgets the
   * sender's keys over its count or older than the age at {@code now}, then the largest sender's
   * oldest keys while the stream is over its total.
   */
  public DedupWindow remember(String sender, Reply.Accepted accepted, long now) {
    String key = accepted.clientMsgId();
    if (key.isEmpty() || find(sender, key).isDefined()) {
      return this;
    }
    Mutable m = new Mutable(this);
    m.add(sender, accepted);
    while (m.count(sender) > perSender || m.count(sender) > 0 && m.oldest(sender).ts() < now - maxAgeMillis) {
      m.dropOldest(sender);
    }
    while (m.size > total) {
      m.dropOldest(m.sizes.last()._2);
    }
    return new DedupWindow(m.keysBySender, m.orderBySender, m.sizes, m.size, perSender, total, maxAgeMillis);
  }

  /** Separates the sender from the key in a snapshot entry; ids and sender names never hold it. */
  private static final char SNAPSHOT_SEPARATOR = '\n';

  /** The snapshot form: one {@link Dedup} per entry, its key "sender\nclientMsgId". */
  public List<Dedup> toSnapshot() {
    return entries().stream()
        .map(e -> Dedup.newBuilder()
            .setKey(e.sender() + SNAPSHOT_SEPARATOR + e.accepted().clientMsgId())
            .setMsgId(e.accepted().msgId())
            .setSeq(e.accepted().seq())
            .setTs(e.accepted().ts())
            .build())
        .toList();
  }

  /**
   * The window a snapshot holds.
   *
   * @param stream the stream name the acceptances carry ("inbox", "group:G")
   * @param ownSender the sender of keys without a separator: snapshots of earlier versions wrote
   *     a user's own keys bare
   */
  public static DedupWindow fromSnapshot(
      List<Dedup> snapshot, RouterSettings.EntitySettings settings, String stream, String ownSender) {
    DedupWindow window = empty(settings);
    for (Dedup d : snapshot) {
      int at = d.getKey().indexOf(SNAPSHOT_SEPARATOR);
      String sender = at < 0 ? ownSender : d.getKey().substring(0, at);
      String clientMsgId = d.getKey().substring(at + 1);
      window = window.remember(sender, new Reply.Accepted(clientMsgId, stream, d.getSeq(), d.getMsgId(), d.getTs()), d.getTs());
    }
    return window;
  }

  /** Every entry, each sender's oldest first, for snapshots. */
  public List<Entry> entries() {
    return orderBySender
        .toList()
        .flatMap(s -> s._2.map(k -> new Entry(s._1, keysBySender.get(s._1).get().get(k).get())))
        .toJavaList();
  }

  /** Equal windows hold the same keys in the same order under the same bounds (state equality). */
  @Override
  public boolean equals(Object o) {
    return o instanceof DedupWindow w
        && orderBySender.equals(w.orderBySender)
        && keysBySender.equals(w.keysBySender)
        && perSender == w.perSender
        && total == w.total
        && maxAgeMillis == w.maxAgeMillis;
  }

  @Override
  public int hashCode() {
    return orderBySender.hashCode();
  }

  @Override
  public String toString() {
    return "DedupWindow" + orderBySender;
  }

  /** The working copy of one {@link #remember}: persistent collections, so nothing is copied. */
  private static final class Mutable {
    HashMap<String, HashMap<String, Reply.Accepted>> keysBySender;
    HashMap<String, Queue<String>> orderBySender;
    TreeSet<Tuple2<Integer, String>> sizes;
    int size;

    Mutable(DedupWindow w) {
      keysBySender = w.keysBySender;
      orderBySender = w.orderBySender;
      sizes = w.sizes;
      size = w.size;
    }

    int count(String sender) {
      return orderBySender.get(sender).map(Queue::size).getOrElse(0);
    }

    Reply.Accepted oldest(String sender) {
      return keysBySender.get(sender).get().get(orderBySender.get(sender).get().head()).get();
    }

    void add(String sender, Reply.Accepted accepted) {
      int before = count(sender);
      keysBySender = keysBySender.put(sender, keysBySender.get(sender).getOrElse(HashMap.empty()).put(accepted.clientMsgId(), accepted));
      orderBySender = orderBySender.put(sender, orderBySender.get(sender).getOrElse(Queue.empty()).enqueue(accepted.clientMsgId()));
      resized(sender, before, before + 1);
      size++;
    }

    void dropOldest(String sender) {
      int before = count(sender);
      Queue<String> order = orderBySender.get(sender).get();
      HashMap<String, Reply.Accepted> keys = keysBySender.get(sender).get().remove(order.head());
      if (order.size() == 1) {
        keysBySender = keysBySender.remove(sender);
        orderBySender = orderBySender.remove(sender);
      } else {
        keysBySender = keysBySender.put(sender, keys);
        orderBySender = orderBySender.put(sender, order.tail());
      }
      resized(sender, before, before - 1);
      size--;
    }

    private void resized(String sender, int before, int after) {
      sizes = sizes.remove(new Tuple2<>(before, sender));
      if (after > 0) {
        sizes = sizes.add(new Tuple2<>(after, sender));
      }
    }
  }
}
