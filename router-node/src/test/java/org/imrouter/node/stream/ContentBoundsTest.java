package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Limits count UTF-8 bytes, whatever shortcut judges a string without encoding it. */
class ContentBoundsTest {
  private static final int LIMIT = 12;

  @Test
  void countsUtf8BytesAtEveryWidth() {
    assertFalse(ContentBounds.exceeds("x".repeat(LIMIT), LIMIT));
    assertTrue(ContentBounds.exceeds("x".repeat(LIMIT + 1), LIMIT));
    assertFalse(ContentBounds.exceeds("é".repeat(LIMIT / 2), LIMIT), "2 bytes each");
    assertTrue(ContentBounds.exceeds("é".repeat(LIMIT / 2) + "x", LIMIT));
    assertFalse(ContentBounds.exceeds("€".repeat(LIMIT / 3), LIMIT), "3 bytes each");
    assertTrue(ContentBounds.exceeds("€".repeat(LIMIT / 3) + "x", LIMIT));
    assertFalse(ContentBounds.exceeds("😀".repeat(LIMIT / 4), LIMIT), "4 bytes per surrogate pair");
    assertTrue(ContentBounds.exceeds("😀".repeat(LIMIT / 4) + "x", LIMIT));
    assertFalse(ContentBounds.exceeds("", 0));
    assertTrue(ContentBounds.exceeds("x", 0));
  }
}
