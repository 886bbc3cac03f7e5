package org.imrouter.node.stream;

import java.util.List;

/**
 * A command that carries content into a journal write. Its size, an upper bound in bytes, bounds
 * the batch it joins ({@link WriteBuffer}): Cassandra refuses a mutation above half its
 * commit-log segment, and a refused batch retried as the same batch would stall its entity.
 */
public interface Sized {
  int contentBytes();

  /** The most bytes {@code s} takes in UTF-8: 3 per char (a surrogate pair takes 4 for 2 chars). */
  static int utf8Bound(String s) {
    return s.length() * 3;
  }

  /** A message's content: its content type, text and payload. */
  static int message(String contentType, String text, byte[] payload) {
    return utf8Bound(contentType) + utf8Bound(text) + payload.length;
  }

  static int utf8Bound(List<String> strings) {
    return strings.stream().mapToInt(Sized::utf8Bound).sum();
  }
}
