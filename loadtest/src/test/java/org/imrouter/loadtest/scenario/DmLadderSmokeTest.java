package org.imrouter.loadtest.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.imrouter.loadtest.baseline.RelayServer;
import org.imrouter.loadtest.report.HtmlReport;
import org.imrouter.loadtest.report.Json;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.report.StepResult;
import org.junit.jupiter.api.Test;

/** The dm ladder end to end with tiny numbers against the in-process relay: no router needed. */
class DmLadderSmokeTest {
  /** Generous: the pass bar is not under test here, and a cold JVM on a busy box is slow. */
  private static final double MAX_P99_MS = 5_000;

  @Test
  void runsBothStepsWithNoViolations() throws Exception {
    try (RelayServer relay = RelayServer.start()) {
      DmOptions options =
          new DmOptions(
              relay.url(), "smoke", 4, 2, 4,
              new LadderSettings(
                  List.of(5, 10), Duration.ofSeconds(2), Duration.ZERO, Duration.ofSeconds(5), MAX_P99_MS, DmOptions.MIN_ACHIEVED,
                  true, 16, Optional.empty(), Optional.empty()),
              Duration.ofSeconds(30), Optional.empty());
      List<StepResult> printed = new ArrayList<>();
      LadderResult result = new DmLadder("baseline-ws", "lt-smoke-u", options, printed::add).run();

      assertEquals(List.of(), result.problems());
      assertEquals(2, result.steps().size());
      assertEquals(2, printed.size());
      assertEquals(0, result.checks().violations());
      assertEquals(4, result.checks().storedCompared(), "both ends of both pairs read back");
      assertEquals(10, result.steps().get(0).sent());
      assertEquals(20, result.steps().get(1).sent());
      for (StepResult step : result.steps()) {
        assertEquals(step.sent(), step.accepted());
        assertEquals(step.sent(), step.delivered());
        assertEquals(0, step.lost());
        assertTrue(step.passed(), step.failures().toString());
        assertTrue(step.delivery().count() > 0);
      }
      assertEquals(Optional.of(10), result.highestPassing());

      RunReport report = new RunReport("baseline-ws", "smoke", "now", Map.of(), Optional.empty(), List.of(result), Map.of(), Map.of(), List.of(), true);
      assertTrue(Json.write(report).contains("\"offeredPerSecond\": 10"));
      assertTrue(HtmlReport.render(report).contains("<svg"));
    }
  }
}
