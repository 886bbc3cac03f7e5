package org.imrouter.node.delivery;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class NodeLoadTest {
  private static final long MS = 1_000_000L;
  private static final Duration SHED_LAG = Duration.ofMillis(500);
  private static final Duration HOLD = Duration.ofSeconds(2);

  private final AtomicLong now = new AtomicLong(1_000 * MS);
  private final NodeLoad load = new NodeLoad(SHED_LAG, HOLD, now::get);

  /** A probe due now that starts {@code lagMs} later; the clock moves to its start. */
  private void probeLate(long lagMs) {
    long due = now.get();
    now.addAndGet(lagMs * MS);
    load.probed(due, now.get());
  }

  @Test
  void probesStartingOnTimeOrSlightlyLateAreNoOverload() {
    probeLate(0);
    probeLate(SHED_LAG.toMillis() - 1);
    assertFalse(load.overloaded());
  }

  @Test
  void aProbeStartingShedLagLateOverloadsTheNodeForHoldAfterIt() {
    probeLate(SHED_LAG.toMillis());
    assertTrue(load.overloaded());
    now.addAndGet(HOLD.toMillis() * MS - 1);
    assertTrue(load.overloaded(), "still within hold");
    now.addAndGet(1);
    assertFalse(load.overloaded(), "hold passed with no late probe");
  }

  @Test
  void aProbeNotYetStartedShedLagAfterItWasDueOverloadsTheNodeAtOnce() {
    load.scheduled(now.get());
    now.addAndGet((SHED_LAG.toMillis() - 1) * MS);
    assertFalse(load.overloaded(), "not yet shed-lag overdue");
    now.addAndGet(MS);
    assertTrue(load.overloaded(), "overdue by shed-lag: the dispatcher is that far behind already");
    load.probed(now.get() - SHED_LAG.toMillis() * MS, now.get());
    now.addAndGet((HOLD.toMillis() - 1) * MS);
    assertTrue(load.overloaded(), "once it runs, held like any late probe");
  }

  @Test
  void everyLateProbeExtendsTheOverloadAndOnTimeOnesDoNot() {
    probeLate(SHED_LAG.toMillis());
    now.addAndGet(HOLD.toMillis() / 2 * MS);
    probeLate(SHED_LAG.toMillis() * 2);
    now.addAndGet((HOLD.toMillis() - 1) * MS);
    assertTrue(load.overloaded(), "held from the last late probe");
    probeLate(0);
    probeLate(1);
    assertFalse(load.overloaded(), "on-time probes do not hold it");
  }
}
