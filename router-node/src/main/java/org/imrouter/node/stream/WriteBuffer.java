package org.imrouter.node.stream;

import java.util.ArrayList;
import java.util.List;

/**
 * Commands a batching entity took in but has not written yet. The first one asks for a flush (a
 * message to self); everything that arrives before that flush is handled, or while the previous
 * write is in flight, joins the same batch, up to a count and a size in bytes ({@link Sized}
 * commands; one command is always taken, whatever its size). At most maxPending commands, and
 * maxPendingBytes of their content, wait beside the batch being written: when storage is slower
 * than the commands come, the excess is turned away at once ({@link #add} says so) instead of
 * queueing without bound. It also keeps the batch being written until the entity says it is, so
 * that an entity whose write fails can answer everyone still waiting ({@link #unwritten}). Not
 * thread-safe: one entity owns it.
 */
public final class WriteBuffer<C> {
  private final List<C> pending = new ArrayList<>();
  private List<C> writing = List.of();
  private final int maxBatch;
  private final long maxBatchBytes;
  private final int maxPending;
  private final long maxPendingBytes;
  private long pendingBytes;
  private final Runnable requestFlush;
  private boolean flushRequested;

  /**
   * @param maxPending most commands waiting beside the batch being written
   * @param maxPendingBytes most content they hold (one command always fits an empty buffer)
   * @param requestFlush sends the entity its flush message
   */
  public WriteBuffer(int maxBatch, long maxBatchBytes, int maxPending, long maxPendingBytes, Runnable requestFlush) {
    this.maxBatch = maxBatch;
    this.maxBatchBytes = maxBatchBytes;
    this.maxPending = maxPending;
    this.maxPendingBytes = maxPendingBytes;
    this.requestFlush = requestFlush;
  }

  /**
   * Takes a command in; false, and the command not taken, when maxPending commands already wait
   * or its content would take them past maxPendingBytes.
   */
  public boolean add(C command) {
    long bytes = contentBytes(command);
    if (pending.size() >= maxPending || !pending.isEmpty() && pendingBytes + bytes > maxPendingBytes) {
      return false;
    }
    pending.add(command);
    pendingBytes += bytes;
    if (!flushRequested) {
      flushRequested = true;
      requestFlush.run();
    }
    return true;
  }

  public boolean isEmpty() {
    return pending.isEmpty();
  }

  /**
   * The next batch in arrival order, at most maxBatch commands and maxBatchBytes of content (at
   * least one command); asks for another flush if more wait.
   */
  public List<C> take() {
    flushRequested = false;
    int size = 0;
    long bytes = 0;
    while (size < pending.size() && size < maxBatch) {
      long next = contentBytes(pending.get(size));
      if (size > 0 && bytes + next > maxBatchBytes) {
        break;
      }
      bytes += next;
      size++;
    }
    List<C> batch = new ArrayList<>(pending.subList(0, size));
    pending.subList(0, size).clear();
    pendingBytes -= bytes;
    writing = batch;
    if (!pending.isEmpty()) {
      flushRequested = true;
      requestFlush.run();
    }
    return batch;
  }

  /** The batch last taken is written (or answered without a write): nobody waits on it any more. */
  public void written() {
    writing = List.of();
  }

  /**
   * Everything taken in and not written: the batch being written, then the commands after it;
   * empties the buffer. For an entity that fails or stops, so that it answers them instead of
   * leaving their senders to time out.
   */
  public List<C> unwritten() {
    List<C> all = new ArrayList<>(writing);
    all.addAll(pending);
    writing = List.of();
    pending.clear();
    pendingBytes = 0;
    // a flush asked for and not yet handled may never arrive (it can be dropped with the failed
    // entity's messages): the next command must ask again, or nothing would be written any more
    flushRequested = false;
    return all;
  }

  private static long contentBytes(Object command) {
    return command instanceof Sized s ? s.contentBytes() : 0;
  }
}
