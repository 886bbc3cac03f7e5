package org.imrouter.loadtest.scenario;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * How a client resends what the router refused UNAVAILABLE, per conversation of one sender, as
 * the protocol asks: the router refuses every later send to a conversation until the earliest
 * refused one is resent (decision 0010), so resending each refused send on its own timer would
 * only be refused again, in a storm. Once a send of a conversation is refused, the conversation
 * has a queue: the refused sends and every new send to it wait there in send order; after a
 * backoff the first goes out, and each one accepted sends the next, one at a time. When the
 * queue is empty, new sends go out at once again. Thread-safe.
 *
 * @param <M> a send
 */
final class ResendQueues<M> {
  /** No send of the queue is on its way. */
  private static final long NONE = -1;

  /**
   * One conversation's sends waiting, by their order of sending; the one the queue sent and that
   * is not answered yet; whether a backoff before the next is pending. At most one of the two.
   */
  private final class Queue {
    final TreeMap<Long, M> waiting = new TreeMap<>();
    long onItsWay = NONE;
    boolean backingOff;
  }

  /** How the first waiting send of a conversation goes out again after the backoff. */
  interface Scheduler {
    void afterBackoff(Runnable resend);
  }

  private final Map<String, Queue> queues = new HashMap<>();
  private final Function<M, String> conversationOf;
  private final ToLongFunction<M> orderOf;
  private final Consumer<M> transmit;
  private final Scheduler scheduler;

  /**
   * @param conversationOf the sender's conversation a send belongs to
   * @param orderOf its place among the sends, increasing in the order they were made
   */
  ResendQueues(Function<M, String> conversationOf, ToLongFunction<M> orderOf, Consumer<M> transmit, Scheduler scheduler) {
    this.conversationOf = conversationOf;
    this.orderOf = orderOf;
    this.transmit = transmit;
    this.scheduler = scheduler;
  }

  /** A new send: out at once, unless earlier sends to its conversation wait to be resent. */
  void send(M m) {
    synchronized (this) {
      Queue q = queues.get(conversationOf.apply(m));
      if (q != null) {
        q.waiting.put(orderOf.applyAsLong(m), m);
        return;
      }
    }
    transmit.accept(m);
  }

  /** {@code m} was refused UNAVAILABLE: it waits in its conversation's queue to be resent. */
  void refused(M m) {
    String conversation = conversationOf.apply(m);
    long order = orderOf.applyAsLong(m);
    synchronized (this) {
      Queue q = queues.computeIfAbsent(conversation, c -> new Queue());
      q.waiting.put(order, m);
      if (q.onItsWay == order) {
        q.onItsWay = NONE; // the one the queue sent came back refused
      }
      if (q.onItsWay != NONE || q.backingOff) {
        return; // the queue is already under way: m goes in its turn
      }
      q.backingOff = true;
    }
    scheduler.afterBackoff(() -> next(conversation));
  }

  /** {@code m} failed for good (past its resend deadline): it no longer holds up the others. */
  void gaveUp(M m) {
    accepted(m);
  }

  /** {@code m} was accepted: the next waiting send of its conversation goes out. */
  void accepted(M m) {
    String conversation = conversationOf.apply(m);
    long order = orderOf.applyAsLong(m);
    synchronized (this) {
      Queue q = queues.get(conversation);
      if (q == null || q.waiting.remove(order) == null || q.onItsWay != order) {
        return; // not the one the queue is waiting on
      }
      q.onItsWay = NONE;
    }
    next(conversation);
  }

  private void next(String conversation) {
    M first;
    synchronized (this) {
      Queue q = queues.get(conversation);
      if (q == null) {
        return;
      }
      if (q.waiting.isEmpty()) {
        queues.remove(conversation);
        return;
      }
      q.backingOff = false;
      first = q.waiting.firstEntry().getValue();
      q.onItsWay = orderOf.applyAsLong(first);
    }
    transmit.accept(first);
  }
}
