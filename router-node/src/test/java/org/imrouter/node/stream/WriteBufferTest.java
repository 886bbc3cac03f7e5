package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A batch is bounded by count and by content bytes, and never stalls on one large command; the
 * commands waiting beside the batch being written are bounded too.
 */
class WriteBufferTest {
  private record Content(String name, int contentBytes) implements Sized {}

  private record Plain(String name) {}

  /** a pending bound no test here reaches, for the tests of the batch bounds */
  private static final int UNBOUNDED = 1_000;

  private final AtomicInteger flushes = new AtomicInteger();

  @Test
  void beyondMaxPendingACommandIsTurnedAwayUntilATakeMakesRoom() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(2, 100, 3, UNBOUNDED, flushes::incrementAndGet);
    assertTrue(buffer.add(new Plain("a")));
    assertTrue(buffer.add(new Plain("b")));
    assertTrue(buffer.add(new Plain("c")));
    assertFalse(buffer.add(new Plain("d")), "three already wait");
    assertEquals(List.of(new Plain("a"), new Plain("b")), buffer.take());
    // a and b are being written: they do not count, c waits beside them
    assertTrue(buffer.add(new Plain("e")));
    assertTrue(buffer.add(new Plain("f")));
    assertFalse(buffer.add(new Plain("g")));
    assertEquals(List.of(new Plain("a"), new Plain("b"), new Plain("c"), new Plain("e"), new Plain("f")), buffer.unwritten(),
        "the turned-away commands were never taken in");
  }

  @Test
  void beyondMaxPendingBytesACommandIsTurnedAwayButOneAlwaysFitsAnEmptyBuffer() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(10, 1_000, UNBOUNDED, 100, flushes::incrementAndGet);
    assertTrue(buffer.add(new Content("a", 60)));
    assertFalse(buffer.add(new Content("b", 50)), "60 + 50 would pass 100");
    assertTrue(buffer.add(new Content("c", 40)), "60 + 40 fits");
    assertEquals(2, buffer.take().size());
    assertTrue(buffer.add(new Content("huge", 500)), "taken: its bytes left the buffer, which is empty again");
  }

  @Test
  void aBatchStopsBeforeTheCommandThatWouldPassTheByteBound() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(10, 100, UNBOUNDED, UNBOUNDED, flushes::incrementAndGet);
    for (int i = 0; i < 5; i++) {
      buffer.add(new Content("c" + i, 40));
    }
    assertEquals(2, buffer.take().size(), "40 + 40; a third would make 120");
    assertEquals(2, buffer.take().size());
    assertEquals(1, buffer.take().size());
    assertEquals(3, flushes.get(), "one flush asked for at the first add, one more after each partial take");
  }

  @Test
  void aCommandAboveTheBoundGoesAloneAndCommandsWithoutContentCountOnlyByNumber() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(3, 100, UNBOUNDED, UNBOUNDED, flushes::incrementAndGet);
    buffer.add(new Content("huge", 500));
    buffer.add(new Content("small", 1));
    assertEquals(List.of(new Content("huge", 500)), buffer.take());
    assertEquals(List.of(new Content("small", 1)), buffer.take());
    for (int i = 0; i < 5; i++) {
      buffer.add(new Plain("p" + i));
    }
    assertEquals(3, buffer.take().size(), "the count bound");
    assertEquals(2, buffer.take().size());
  }

  @Test
  void afterTheUnwrittenAreTakenOutTheNextCommandAsksForAFlushAgain() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(1, 100, UNBOUNDED, UNBOUNDED, flushes::incrementAndGet);
    buffer.add(new Plain("a"));
    buffer.add(new Plain("b"));
    assertEquals(List.of(new Plain("a")), buffer.take());
    assertEquals(2, flushes.get(), "b waits: another flush asked for while a is written");
    // a's write fails; the flush asked for b may be dropped with the entity's other messages
    assertEquals(List.of(new Plain("a"), new Plain("b")), buffer.unwritten());
    buffer.add(new Plain("c"));
    assertEquals(3, flushes.get(), "c must ask for its own flush, or it would never be written");
    assertEquals(List.of(new Plain("c")), buffer.take());
  }
}
