package org.imrouter.node.stream;

/** Seqs {@code from} to {@code to} of a stream, both included. */
public record SeqRange(long from, long to) {
  public boolean contains(long seq) {
    return seq >= from && seq <= to;
  }
}
