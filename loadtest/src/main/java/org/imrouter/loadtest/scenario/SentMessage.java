package org.imrouter.loadtest.scenario;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One message the load generator sent, and how far it has come: accepted by the server,
 * delivered to its receiver, or refused with an error. Each transition happens once even if a
 * frame arrives twice, so a duplicate never counts as a second delivery.
 */
final class SentMessage {
  private static final int ACCEPTED = 1;
  private static final int DELIVERED = 2;
  private static final int FAILED = 4;
  private static final int DONE = ACCEPTED | DELIVERED;

  final String clientMsgId;
  final StepMeter step;
  final long intendedNanos;
  final String receiver;
  private final AtomicInteger state = new AtomicInteger();

  SentMessage(String clientMsgId, StepMeter step, long intendedNanos, String receiver) {
    this.clientMsgId = clientMsgId;
    this.step = step;
    this.intendedNanos = intendedNanos;
    this.receiver = receiver;
  }

  /** Marks a transition; returns true the first time it happens. */
  boolean accept() {
    return mark(ACCEPTED);
  }

  boolean deliver() {
    return mark(DELIVERED);
  }

  boolean fail() {
    return mark(FAILED);
  }

  private boolean mark(int bit) {
    while (true) {
      int before = state.get();
      if ((before & bit) != 0) {
        return false;
      }
      int after = before | bit;
      if (state.compareAndSet(before, after)) {
        if (finished(after) && !finished(before)) {
          step.finished();
        }
        return true;
      }
    }
  }

  private static boolean finished(int s) {
    return (s & DONE) == DONE || (s & FAILED) != 0;
  }
}
