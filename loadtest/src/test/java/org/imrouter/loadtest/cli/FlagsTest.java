package org.imrouter.loadtest.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class FlagsTest {
  @Test
  void readsValuesDefaultsListsDurationsAndBareBooleans() {
    Flags f = Flags.parse(List.of("--sessions", "4", "--rates=5,10", "--continue", "--hold", "30s", "--server-pid", "77"));
    assertEquals(4, f.integer("sessions", 2000));
    assertEquals(50, f.integer("pairs", 50));
    assertEquals(List.of(5, 10), f.integers("rates", List.of()));
    assertTrue(f.bool("continue", false));
    assertEquals(Duration.ofSeconds(30), f.duration("hold", Duration.ofMinutes(10)));
    assertEquals(77L, f.optionalLong("server-pid").orElseThrow());
    f.rejectUnknown();
  }

  @Test
  void durationsTakeUnits() {
    assertEquals(Duration.ofMillis(500), Flags.parseDuration("500ms"));
    assertEquals(Duration.ofMinutes(10), Flags.parseDuration("10m"));
    assertEquals(Duration.ofSeconds(7), Flags.parseDuration("7"));
    assertThrows(IllegalArgumentException.class, () -> Flags.parseDuration("ten"));
  }

  @Test
  void aMisspeltFlagFailsTheRun() {
    Flags f = Flags.parse(List.of("--sesions", "4"));
    f.integer("sessions", 2000);
    assertThrows(IllegalArgumentException.class, f::rejectUnknown);
  }
}
