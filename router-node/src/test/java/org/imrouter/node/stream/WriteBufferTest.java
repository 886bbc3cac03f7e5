package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A batch is bounded by count and by content bytes, and never stalls on one large command. */
class WriteBufferTest {
  private record Content(String name, int contentBytes) implements Sized {}

  private record Plain(String name) {}

  private final AtomicInteger flushes = new AtomicInteger();

  @Test
  void aBatchStopsBeforeTheCommandThatWouldPassTheByteBound() {
    WriteBuffer<Object> buffer = new WriteBuffer<>(10, 100, flushes::incrementAndGet);
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
    WriteBuffer<Object> buffer = new WriteBuffer<>(3, 100, flushes::incrementAndGet);
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
    WriteBuffer<Object> buffer = new WriteBuffer<>(1, 100, flushes::incrementAndGet);
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
