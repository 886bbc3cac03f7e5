package org.imrouter.loadtest.scenario;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.protocol.v1.ClientFrame;

/**
 * One message the load generator sent, and how far it has come: accepted by the server,
 * delivered to each session of its audience, or refused with an error. Each transition happens
 * once even if a frame arrives twice, so a duplicate never counts as a second delivery. A bitmap,
 * not a set, marks the deliveries: a group post has up to a thousand of them.
 */
final class SentMessage {
  private static final int ACCEPTED = 1;
  private static final int FAILED = 2;
  private static final int BITS_PER_WORD = Long.SIZE;

  final String clientMsgId;
  final StepMeter step;
  final long intendedNanos;
  final Audience audience;
  /** Who sent it and what, for resends after UNAVAILABLE. */
  final ClientSession sender;
  final ClientFrame frame;
  /** its sender's session and recipient: the sends kept in order with it ({@link ResendQueues}) */
  final String conversation;
  /** its place among the load generator's sends */
  final long order;
  private final AtomicInteger state = new AtomicInteger();
  private final AtomicLongArray delivered;
  private final AtomicInteger deliveries = new AtomicInteger();
  private final AtomicInteger finished = new AtomicInteger();

  SentMessage(String clientMsgId, long order, StepMeter step, long intendedNanos, Audience audience, ClientSession sender, ClientFrame frame) {
    this.clientMsgId = clientMsgId;
    this.order = order;
    this.conversation = sender.id() + " " + frame.getSend().getTo();
    this.step = step;
    this.intendedNanos = intendedNanos;
    this.audience = audience;
    this.sender = sender;
    this.frame = frame;
    this.delivered = new AtomicLongArray((audience.size() + BITS_PER_WORD - 1) / BITS_PER_WORD);
  }

  /** Marks the accept; returns true the first time. */
  boolean accept() {
    boolean first = mark(ACCEPTED);
    if (first && deliveries.get() == audience.size()) {
      complete();
    }
    return first;
  }

  boolean fail() {
    boolean first = mark(FAILED);
    if (first) {
      finish();
    }
    return first;
  }

  /** Marks the delivery to audience member {@code index}; returns true the first time. */
  boolean deliverTo(int index) {
    int word = index / BITS_PER_WORD;
    long bit = 1L << (index % BITS_PER_WORD);
    while (true) {
      long before = delivered.get(word);
      if ((before & bit) != 0) {
        return false;
      }
      if (delivered.compareAndSet(word, before, before | bit)) {
        if (deliveries.incrementAndGet() == audience.size() && (state.get() & ACCEPTED) != 0) {
          complete();
        }
        return true;
      }
    }
  }

  private boolean mark(int bit) {
    while (true) {
      int before = state.get();
      if ((before & bit) != 0) {
        return false;
      }
      if (state.compareAndSet(before, before | bit)) {
        return true;
      }
    }
  }

  /** Accepted and delivered to all: counted once, whichever of the two came last. */
  private void complete() {
    if (finished.compareAndSet(0, 1)) {
      step.completed.increment();
      step.finished();
    }
  }

  private void finish() {
    if (finished.compareAndSet(0, 1)) {
      step.finished();
    }
  }
}
