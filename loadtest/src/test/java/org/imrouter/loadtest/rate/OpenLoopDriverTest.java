package org.imrouter.loadtest.rate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OpenLoopDriverTest {
  /** A simulated clock: sleeping jumps to the deadline; each send costs {@code sendCostNanos}. */
  private static final class FakeClock implements OpenLoopDriver.Clock {
    long now;
    final long sendCostNanos;

    FakeClock(long sendCostNanos) {
      this.sendCostNanos = sendCostNanos;
    }

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public void sleepUntil(long deadlineNanos) {
      now = Math.max(now, deadlineNanos);
    }
  }

  @Test
  void issuesRateTimesDurationSendsAtEvenlySpacedIntendedTimes() throws InterruptedException {
    FakeClock clock = new FakeClock(0);
    List<Long> intended = new ArrayList<>();
    List<Long> issuedAt = new ArrayList<>();
    long n =
        new OpenLoopDriver(clock)
            .run(new OpenLoopSchedule(400, Duration.ofSeconds(10)), 1_000, (i, t) -> {
              intended.add(t);
              issuedAt.add(clock.now);
            });
    assertEquals(4000, n);
    assertEquals(4000, intended.size());
    for (int i = 0; i < intended.size(); i++) {
      assertEquals(1_000 + i * 2_500_000L, intended.get(i)); // 400/s = one every 2.5 ms
      assertEquals(intended.get(i), issuedAt.get(i), "issued at its intended time when on schedule");
    }
  }

  @Test
  void aLateDriverKeepsTheIntendedTimesSoLatencyIncludesTheDelay() throws InterruptedException {
    FakeClock clock = new FakeClock(0);
    List<Long> intended = new ArrayList<>();
    new OpenLoopDriver(clock)
        .run(new OpenLoopSchedule(100, Duration.ofSeconds(1)), 0, (i, t) -> {
          intended.add(t);
          clock.now += 25_000_000L; // every send takes 25 ms: 2.5× the 10 ms interval
        });
    assertEquals(100, intended.size());
    // the schedule is not stretched by the slow sends (no coordinated omission)
    assertEquals(99 * 10_000_000L, intended.get(99));
    assertEquals(100 * 25_000_000L, clock.now);
  }

  @Test
  void countFollowsRateAndDuration() {
    assertEquals(5, new OpenLoopSchedule(5, Duration.ofSeconds(1)).count());
    assertEquals(20, new OpenLoopSchedule(10, Duration.ofSeconds(2)).count());
    assertEquals(1500, new OpenLoopSchedule(3000, Duration.ofMillis(500)).count());
    assertEquals(333_333_333L, new OpenLoopSchedule(3, Duration.ofSeconds(1)).offsetNanos(1));
  }
}
