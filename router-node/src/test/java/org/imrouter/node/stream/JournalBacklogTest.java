package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The CoDel-style judgement of JournalBacklog, on a clock the test moves. */
class JournalBacklogTest {
  private static final Duration TARGET = Duration.ofMillis(300);
  private static final Duration INTERVAL = Duration.ofSeconds(1);
  private static final Duration FAST = Duration.ofMillis(5);
  private static final Duration SLOW = Duration.ofMillis(900);
  private static final long STEP = Duration.ofMillis(100).toNanos();

  /** Reports {@code latency} for every write of one interval, ten writes apart. */
  private static long interval(JournalBacklog backlog, long now, Duration... latencies) {
    for (Duration latency : latencies) {
      now += STEP;
      backlog.written(latency, now);
    }
    return now + INTERVAL.toNanos();
  }

  @Test
  void everyWriteOfAnIntervalSlowMeansAStandingQueueUntilAFastOne() {
    long now = 0;
    JournalBacklog backlog = new JournalBacklog(TARGET, INTERVAL, now);
    now = interval(backlog, now, SLOW, SLOW, SLOW);
    assertTrue(backlog.standing(now));
    now = interval(backlog, now, SLOW, FAST, SLOW);
    assertFalse(backlog.standing(now), "one fast write shows the queue drained");
  }

  @Test
  void aBurstThatMakesSomeWritesSlowIsNotAQueue() {
    long now = 0;
    JournalBacklog backlog = new JournalBacklog(TARGET, INTERVAL, now);
    now = interval(backlog, now, SLOW, SLOW, FAST, SLOW);
    assertFalse(backlog.standing(now));
  }

  @Test
  void anIntervalWithoutWritesEndsIt() {
    long now = 0;
    JournalBacklog backlog = new JournalBacklog(TARGET, INTERVAL, now);
    now = interval(backlog, now, SLOW, SLOW);
    assertTrue(backlog.standing(now));
    now += 2 * INTERVAL.toNanos(); // every request refused, nothing written: nothing waits
    assertFalse(backlog.standing(now));
  }

  @Test
  void aZeroTargetNeverRefuses() {
    long now = 0;
    JournalBacklog backlog = new JournalBacklog(Duration.ZERO, INTERVAL, now);
    now = interval(backlog, now, SLOW, SLOW, SLOW);
    assertFalse(backlog.standing(now));
  }
}
