package org.imrouter.loadtest.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.imrouter.loadtest.baseline.RelayServer;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.StepResult;
import org.junit.jupiter.api.Test;

/** The group ladder end to end with tiny numbers against the in-process relay: no router needed. */
class GroupLadderSmokeTest {
  /** Generous: the pass bar is not under test here, and a cold JVM on a busy box is slow. */
  private static final double MAX_P99_MS = 5_000;
  private static final int MEMBERS = 5;
  private static final Duration STEP = Duration.ofSeconds(2);

  @Test
  void everyMemberGetsEveryPostWithNoViolations() throws Exception {
    try (RelayServer relay = RelayServer.start()) {
      LadderSettings ladder =
          new LadderSettings(List.of(2, 4), STEP, Duration.ZERO, Duration.ofSeconds(5), MAX_P99_MS, DmOptions.MIN_ACHIEVED,
              true, 16, Optional.empty(), Optional.empty());
      GroupOptions options = new GroupOptions(relay.url(), MEMBERS, MEMBERS, Duration.ofSeconds(30), Optional.empty(), ladder);
      LadderResult result = new GroupLadder("group-smoke", "smoke", options, step -> {}).run();

      assertEquals(List.of(), result.problems());
      assertEquals(0, result.checks().violations());
      assertEquals(MEMBERS, result.checks().storedCompared(), "every member read the group back");
      assertEquals(2, result.steps().size());
      for (StepResult step : result.steps()) {
        assertTrue(step.passed(), step.failures().toString());
        assertEquals(step.sent(), step.accepted());
        assertEquals(step.sent() * MEMBERS, step.delivered(), "each post reaches every member, the poster too");
        assertEquals(0, step.lost());
      }
      assertEquals(4, result.steps().get(0).sent());
      assertEquals(8, result.steps().get(1).sent());
      assertEquals(Optional.of(4), result.highestPassing());
    }
  }
}
