package org.imrouter.loadtest.rate;

import java.util.concurrent.locks.LockSupport;

/**
 * Issues the sends of a schedule at their due times, from one thread, whether or not earlier
 * sends were answered (open loop). If the thread falls behind (a GC pause, a busy machine) it
 * issues the overdue sends at once and each keeps its <em>intended</em> time, which is what
 * latency is measured from: a stall is charged to the messages it delayed instead of being hidden
 * (no coordinated omission).
 */
public final class OpenLoopDriver {
  /** The time source; tests pass a simulated one. */
  public interface Clock {
    long nanoTime();

    /** Returns at or after {@code deadlineNanos}. */
    void sleepUntil(long deadlineNanos) throws InterruptedException;
  }

  /** One due send. */
  @FunctionalInterface
  public interface Action {
    void send(long index, long intendedNanos);
  }

  /** The system clock; parks in slices so that an interrupt stops a step promptly. */
  public static final Clock SYSTEM_CLOCK =
      new Clock() {
        @Override
        public long nanoTime() {
          return System.nanoTime();
        }

        @Override
        public void sleepUntil(long deadlineNanos) throws InterruptedException {
          long left;
          while ((left = deadlineNanos - System.nanoTime()) > 0) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
              throw new InterruptedException();
            }
          }
        }
      };

  private final Clock clock;

  public OpenLoopDriver(Clock clock) {
    this.clock = clock;
  }

  /**
   * Runs the schedule starting at {@code startNanos}; returns the number of sends issued (the
   * schedule's count).
   */
  public long run(OpenLoopSchedule schedule, long startNanos, Action action) throws InterruptedException {
    long count = schedule.count();
    for (long i = 0; i < count; i++) {
      long intended = startNanos + schedule.offsetNanos(i);
      if (clock.nanoTime() < intended) {
        clock.sleepUntil(intended);
      }
      action.send(i, intended);
    }
    return count;
  }
}
