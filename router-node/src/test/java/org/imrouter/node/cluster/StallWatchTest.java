package org.imrouter.node.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A stall longer than the failure detector tolerates closes the fence, and keeps it closed a while. */
class StallWatchTest {
  private static final long MS = 1_000_000L;
  private static final long STALL = 1_500 * MS;
  private static final long HOLD = 2_500 * MS;
  private static final long TICK = 100 * MS;

  @Test
  void ticksOnTimeKeepTheFenceOpen() {
    StallWatch watch = new StallWatch(STALL, HOLD, 0);
    for (long t = TICK; t <= 10_000 * MS; t += TICK) {
      watch.tick(t);
      assertTrue(watch.steady(t + TICK / 2));
    }
  }

  @Test
  void aPauseTheFailureDetectorToleratesIsNoStall() {
    StallWatch watch = new StallWatch(STALL, HOLD, 0);
    watch.tick(STALL); // just within
    assertTrue(watch.steady(STALL));
  }

  @Test
  void aLongStallFencesBeforeTheNextTickAndForTheHoldAfterIt() {
    StallWatch watch = new StallWatch(STALL, HOLD, 0);
    watch.tick(TICK);
    long woke = TICK + 10_000 * MS; // frozen for 10 s
    assertFalse(watch.steady(woke), "a check that runs before the ticker after the wake-up");
    watch.tick(woke);
    assertFalse(watch.steady(woke + TICK), "held after the stall");
    for (long t = woke + TICK; t < woke + HOLD; t += TICK) {
      watch.tick(t);
      assertFalse(watch.steady(t));
    }
    watch.tick(woke + HOLD);
    assertTrue(watch.steady(woke + HOLD));
  }
}
