package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.imrouter.protocol.persist.DirectReceived;
import org.imrouter.protocol.persist.InboxEvent;
import org.junit.jupiter.api.Test;

/** A page is cut by the bytes of its items, never below one item. */
class StreamPagesTest {
  private static StreamItem item(long seq, int textChars) {
    InboxEvent event = InboxEvent.newBuilder().setReceived(DirectReceived.newBuilder().setText("x".repeat(textChars))).build();
    return new StreamItem.Inbox("u", seq, event);
  }

  private static StreamPages.Page page(int items, int textChars, boolean hasMore) {
    return new StreamPages.Page(IntStream.rangeClosed(1, items).mapToObj(i -> item(i, textChars)).toList(), hasMore);
  }

  @Test
  void aPageEndsWithTheItemThatPassesTheBound() {
    StreamPages.Page full = page(10, 1000, false);
    int one = full.items().get(0).storedBytes();
    StreamPages.Page cut = StreamPages.bounded(full, 3L * one - 1);
    assertEquals(List.of(1L, 2L, 3L), cut.items().stream().map(StreamItem::seq).toList());
    assertTrue(cut.hasMore(), "the rest is announced");
  }

  @Test
  void aPageUnderTheBoundOrOfOneItemIsLeftAlone() {
    StreamPages.Page small = page(3, 10, false);
    assertSame(small, StreamPages.bounded(small, 1_000_000));
    StreamPages.Page huge = page(1, 100_000, false);
    assertSame(huge, StreamPages.bounded(huge, 10), "one item always fits, or the stream would stall");
    StreamPages.Page lastFits = page(2, 1000, true);
    assertTrue(StreamPages.bounded(lastFits, 1).hasMore());
    assertEquals(1, StreamPages.bounded(lastFits, 1).items().size());
    assertFalse(StreamPages.bounded(page(2, 1000, false), 1_000_000).hasMore());
  }
}
