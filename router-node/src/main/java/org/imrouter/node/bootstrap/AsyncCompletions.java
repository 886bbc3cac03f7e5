package org.imrouter.node.bootstrap;

import java.util.concurrent.ForkJoinPool;

/**
 * Makes sure completions of Pekko's Java futures run on a shared pool instead of a new thread
 * each.
 *
 * <p>Why: Pekko's Java API hands out Scala futures converted to {@code CompletionStage}, whose
 * plain callbacks ({@code thenApply}, {@code whenComplete}, and so every {@code ask} and
 * {@code pipeToSelf}) run as the {@code *Async} variants on the JDK's default async executor.
 * That executor is the common ForkJoinPool only when the pool has a parallelism of at least 2; on
 * a 2-core machine its default is 1 and the JDK then starts a new thread for every callback.
 * Profiling a node at 200 direct messages per second found 190 threads started per second this
 * way, most of the router's CPU per message (BENCHMARKS.md).
 */
public final class AsyncCompletions {
  private static final String PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";
  /** The lowest common-pool parallelism with which the JDK uses the pool for async callbacks. */
  static final int MIN_PARALLELISM = 2;

  private AsyncCompletions() {}

  /**
   * Sets the common pool's parallelism to at least {@link #MIN_PARALLELISM} unless configured
   * (-D on the command line wins). Only works before anything touched the common pool, so the
   * node's main class calls it first.
   */
  public static void useSharedPool() {
    if (System.getProperty(PARALLELISM) == null) {
      int cores = Runtime.getRuntime().availableProcessors();
      System.setProperty(PARALLELISM, Integer.toString(Math.max(MIN_PARALLELISM, cores - 1)));
    }
  }

  /** Whether async callbacks share a pool (false: each one would start a thread). */
  public static boolean sharedPoolInUse() {
    return ForkJoinPool.getCommonPoolParallelism() >= MIN_PARALLELISM;
  }
}
