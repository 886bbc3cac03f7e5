package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** One typing signal per key per window passes; windows are per key; expired keys are swept. */
class TypingWindowTest {
  private static final Duration WINDOW = Duration.ofSeconds(2);

  /** A clock the test moves by hand. */
  private static final class ManualClock extends Clock {
    private Instant now = Instant.ofEpochSecond(1_000);

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  private final ManualClock clock = new ManualClock();
  private final TypingWindow typing = new TypingWindow(WINDOW, clock);

  @Test
  void aBurstPassesOncePerWindowAndEachKeyHasItsOwnWindow() {
    assertTrue(typing.pass("bob"));
    for (int i = 0; i < 50; i++) {
      assertFalse(typing.pass("bob"), "repeat " + i + " within the window");
    }
    assertTrue(typing.pass("carol"), "another conversation is not held back");
    clock.advance(WINDOW.minusMillis(1));
    assertFalse(typing.pass("bob"));
    clock.advance(Duration.ofMillis(1));
    assertTrue(typing.pass("bob"), "the next window lets one through again");
  }

  @Test
  void keysWhoseWindowPassedAreForgotten() {
    for (int i = 0; i < 100; i++) {
      typing.pass("user-" + i);
    }
    assertEquals(100, typing.size());
    clock.advance(WINDOW);
    typing.pass("late");
    assertEquals(1, typing.size(), "only the key with an open window is kept");
  }
}
