package org.imrouter.node.stream;

import java.util.ArrayList;
import java.util.List;

/**
 * Commands a batching entity took in but has not written yet. The first one asks for a flush (a
 * message to self); everything that arrives before that flush is handled, or while the previous
 * write is in flight, joins the same batch. Not thread-safe: one entity owns it.
 */
public final class WriteBuffer<C> {
  private final List<C> pending = new ArrayList<>();
  private final int maxBatch;
  private final Runnable requestFlush;
  private boolean flushRequested;

  /** @param requestFlush sends the entity its flush message */
  public WriteBuffer(int maxBatch, Runnable requestFlush) {
    this.maxBatch = maxBatch;
    this.requestFlush = requestFlush;
  }

  public void add(C command) {
    pending.add(command);
    if (!flushRequested) {
      flushRequested = true;
      requestFlush.run();
    }
  }

  public boolean isEmpty() {
    return pending.isEmpty();
  }

  /** The next batch, at most maxBatch in arrival order; asks for another flush if more wait. */
  public List<C> take() {
    flushRequested = false;
    int size = Math.min(pending.size(), maxBatch);
    List<C> batch = new ArrayList<>(pending.subList(0, size));
    pending.subList(0, size).clear();
    if (!pending.isEmpty()) {
      flushRequested = true;
      requestFlush.run();
    }
    return batch;
  }
}
