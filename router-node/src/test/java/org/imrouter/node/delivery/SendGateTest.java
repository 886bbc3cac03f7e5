package org.imrouter.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.config.RouterSettings;
import org.junit.jupiter.api.Test;

/**
 * The node's send admission: it sheds only when not one send of an interval was served within the
 * target (a standing queue, or storage failing every write), never below its floor, and admits
 * everything again once sends are served quickly.
 */
class SendGateTest {
  private static final Duration TARGET = Duration.ofMillis(100);
  private static final int MIN_SAMPLES = 10;
  private static final double FLOOR = 0.0625;
  private static final long FAST = TimeUnit.MILLISECONDS.toNanos(5);
  private static final long SLOW = TimeUnit.MILLISECONDS.toNanos(400);

  /** The draw that decides each send while only a share is admitted. */
  private double draw;

  private SendGate gate() {
    return new SendGate(new RouterSettings.Overload(TARGET, Duration.ofSeconds(1), MIN_SAMPLES, FLOOR), () -> draw);
  }

  private static void answer(SendGate gate, int times, long roundTripNanos, boolean served) {
    for (int i = 0; i < times; i++) {
      gate.answered(roundTripNanos, served);
    }
  }

  @Test
  void anIntervalWithOnlySlowSendsHalvesTheShareAdmitted() {
    SendGate gate = gate();
    answer(gate, MIN_SAMPLES, SLOW, true);
    gate.endInterval();
    assertEquals(0.5, gate.admitted());
    draw = 0.7;
    assertFalse(gate.admit(), "a draw above the share is refused");
    draw = 0.3;
    assertTrue(gate.admit(), "a draw below it goes out");
  }

  @Test
  void oneFastSendAmongSlowOnesMeansNoStandingQueue() {
    // a dead node's entities are moving: sends to them time out, sends to the rest are fast
    SendGate gate = gate();
    answer(gate, 100, SLOW, false);
    answer(gate, 1, FAST, true);
    gate.endInterval();
    assertEquals(1.0, gate.admitted());
  }

  @Test
  void failedSendsCountAsSlowHoweverQuicklyTheyWereAnswered() {
    // storage down: entities answer UNAVAILABLE at once, and nothing is written
    SendGate gate = gate();
    answer(gate, MIN_SAMPLES, FAST, false);
    gate.endInterval();
    assertEquals(0.5, gate.admitted());
  }

  @Test
  void aQuietNodeIsNeverShed() {
    SendGate gate = gate();
    answer(gate, MIN_SAMPLES - 1, SLOW, false);
    gate.endInterval();
    gate.endInterval(); // nothing answered at all
    assertEquals(1.0, gate.admitted());
  }

  @Test
  void tooFewAnswersToJudgeByRaiseTheShare() {
    // while shedding, the sends admitted may be too few to show a queue: none is assumed
    SendGate gate = gate();
    answer(gate, MIN_SAMPLES, SLOW, true);
    gate.endInterval();
    answer(gate, MIN_SAMPLES, SLOW, true);
    gate.endInterval();
    assertEquals(0.25, gate.admitted());
    answer(gate, MIN_SAMPLES - 1, SLOW, true);
    gate.endInterval();
    assertEquals(0.5, gate.admitted());
  }

  @Test
  void theShareStopsAtItsFloorAndComesBackWithFastSends() {
    SendGate gate = gate();
    for (int i = 0; i < 10; i++) {
      answer(gate, MIN_SAMPLES, SLOW, true);
      gate.endInterval();
    }
    assertEquals(FLOOR, gate.admitted(), "the floor keeps probes going out");
    int intervals = 0;
    while (gate.admitted() < 1.0) {
      answer(gate, 1, FAST, true); // one probe served quickly
      gate.endInterval();
      intervals++;
    }
    assertEquals(4, intervals, "the share doubles per good interval: 1/16 to all in 4");
  }
}
