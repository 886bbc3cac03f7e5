package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Storage counts as failing only after failures in a row, while they keep coming, and until any success. */
class StorageHealthTest {
  private static final int IN_A_ROW = 10;
  private static final Duration WINDOW = Duration.ofSeconds(14);

  private long now;

  private StorageHealth health() {
    return new StorageHealth(IN_A_ROW, WINDOW, () -> now);
  }

  private static void fail(StorageHealth health, int times) {
    for (int i = 0; i < times; i++) {
      health.failed();
    }
  }

  @Test
  void failuresInARowMakeItFailingAndOneSuccessEndsIt() {
    StorageHealth health = health();
    fail(health, IN_A_ROW - 1);
    assertFalse(health.failing(), "fewer failures than the journal's breaker needs");
    health.failed();
    assertTrue(health.failing());
    health.succeeded();
    assertFalse(health.failing());
  }

  @Test
  void successesAmongFailuresNeverMakeItFailing() {
    // one entity fails (a timeout under load) while the others write
    StorageHealth health = health();
    for (int i = 0; i < 3 * IN_A_ROW; i++) {
      health.failed();
      if (i % (IN_A_ROW / 2) == 0) {
        health.succeeded();
      }
    }
    assertFalse(health.failing());
  }

  @Test
  void itLapsesAWindowAfterTheLastFailure() {
    StorageHealth health = health();
    fail(health, IN_A_ROW);
    now += WINDOW.toNanos() - TimeUnit.MILLISECONDS.toNanos(1);
    assertTrue(health.failing());
    health.failed(); // a restarting entity's recovery failed again: still down
    now += WINDOW.toNanos() - TimeUnit.MILLISECONDS.toNanos(1);
    assertTrue(health.failing());
    now += TimeUnit.MILLISECONDS.toNanos(1);
    assertFalse(health.failing(), "no failure for a window: let sends try again");
  }
}
