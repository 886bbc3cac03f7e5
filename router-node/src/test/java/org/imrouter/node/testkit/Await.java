package org.imrouter.node.testkit;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waiting on conditions with deadlines: tests never sleep to "let it settle". */
public final class Await {
  private static final Duration STEP = Duration.ofMillis(200);

  private Await() {}

  /**
   * Polls {@code condition} until it holds; fails after {@code timeout} with {@code what} and the
   * current {@code state} in the message.
   */
  public static void until(String what, Duration timeout, BooleanSupplier condition, Supplier<String> state) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what + ": " + state.get());
      }
      step(STEP);
    }
  }

  /** One bounded poll step between two checks of a condition. */
  public static void step(Duration d) {
    new CompletableFuture<Void>().completeOnTimeout(null, d.toMillis(), TimeUnit.MILLISECONDS).join();
  }
}
