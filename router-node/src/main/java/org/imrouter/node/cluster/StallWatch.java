package org.imrouter.node.cluster;

/**
 * Notices that this process stood still (a long GC pause, CPU starvation, a suspended VM,
 * SIGSTOP) from the gaps between the ticks it is given, and holds the write fence closed for a
 * while after one.
 *
 * <p>Why the failure detector is not enough: after a stall, the answers to the heartbeats sent
 * just before it are still in the sockets; read at once, they make every peer look alive again
 * for an acceptable-heartbeat-pause, while the others may have downed this node and started its
 * entities elsewhere. The quarantine notice that tells this node so arrives a heartbeat or a
 * gossip round later. So a node that was still for longer than {@code stall} does not write for
 * {@code hold} after it wakes (enough to hear that it was downed), and does not write either
 * while the ticks have stopped (the check may run before the ticker after a wake-up).
 *
 * <p>Thread-safe: one ticker writes, any thread reads.
 */
final class StallWatch {
  private final long stallNanos;
  private final long holdNanos;
  private volatile long lastTickNanos;
  private volatile long holdUntilNanos;

  StallWatch(long stallNanos, long holdNanos, long nowNanos) {
    this.stallNanos = stallNanos;
    this.holdNanos = holdNanos;
    this.lastTickNanos = nowNanos;
    this.holdUntilNanos = nowNanos;
  }

  void tick(long nowNanos) {
    if (nowNanos - lastTickNanos > stallNanos) {
      holdUntilNanos = nowNanos + holdNanos;
    }
    lastTickNanos = nowNanos;
  }

  /** True when the process has been running without a stall long enough to write. */
  boolean steady(long nowNanos) {
    return nowNanos - lastTickNanos <= stallNanos && nowNanos - holdUntilNanos >= 0;
  }
}
