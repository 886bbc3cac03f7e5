package org.imrouter.node.stream;

import io.vavr.Tuple2;
import io.vavr.collection.HashMap;
import io.vavr.collection.Queue;
import io.vavr.control.Option;

/**
 * Remembers recent idempotency keys (clientMsgId per sender) and what they were accepted as, so
 * that a retried send is answered with the original {@link Reply.Accepted} instead of creating a
 * second item. Bounded by count and by age: a key is remembered for at least {@code maxAgeMillis}
 * unless more than {@code maxEntries} newer keys arrived since.
 */
public record DedupWindow(
    HashMap<String, Reply.Accepted> byKey, Queue<String> order, int maxEntries, long maxAgeMillis) {

  public static DedupWindow empty(int maxEntries, long maxAgeMillis) {
    return new DedupWindow(HashMap.empty(), Queue.empty(), maxEntries, maxAgeMillis);
  }

  public Option<Reply.Accepted> find(String key) {
    return byKey.get(key);
  }

  /** Records {@code key}, then forgets keys over the count or older than the age at {@code now}. */
  public DedupWindow remember(String key, Reply.Accepted accepted, long now) {
    if (key.isEmpty() || byKey.containsKey(key)) {
      return this;
    }
    HashMap<String, Reply.Accepted> keys = byKey.put(key, accepted);
    Queue<String> queue = order.enqueue(key);
    while (!queue.isEmpty()
        && (queue.size() > maxEntries || keys.get(queue.head()).get().ts() < now - maxAgeMillis)) {
      keys = keys.remove(queue.head());
      queue = queue.tail();
    }
    return new DedupWindow(keys, queue, maxEntries, maxAgeMillis);
  }

  /** (key, acceptance) oldest first, for snapshots. */
  public Iterable<Tuple2<String, Reply.Accepted>> entries() {
    return order.map(k -> new Tuple2<>(k, byKey.get(k).get()));
  }
}
