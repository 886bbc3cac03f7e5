package org.imrouter.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.imrouter.node.config.LimitedFrame;
import org.imrouter.node.config.RouterSettings;
import org.junit.jupiter.api.Test;

/** A user's buckets are shared by their connections and survive a reconnect until full again. */
class UserRateLimitsTest {
  private static final long SECOND = 1_000_000_000L;
  private static final int BURST = 2;

  private final AtomicLong now = new AtomicLong(1_000 * SECOND);
  private final UserRateLimits limits =
      new UserRateLimits(
          Map.of(LimitedFrame.SEND, new RouterSettings.Rate(1, BURST), LimitedFrame.TYPING, new RouterSettings.Rate(1, 1)), now::get);

  @Test
  void connectionsOfOneUserShareTheirBucketsAndKindsAreSeparate() {
    UserRateLimits.Buckets first = limits.attach("alice");
    UserRateLimits.Buckets second = limits.attach("alice");
    assertSame(first, second);
    assertTrue(first.tryAcquire(LimitedFrame.SEND));
    assertTrue(second.tryAcquire(LimitedFrame.SEND));
    assertFalse(first.tryAcquire(LimitedFrame.SEND), "the burst is the user's, not each connection's");
    assertTrue(second.tryAcquire(LimitedFrame.TYPING), "another kind has its own bucket");
    assertTrue(limits.attach("bob").tryAcquire(LimitedFrame.SEND), "another user has their own");
  }

  @Test
  void aReconnectFindsTheEmptiedBucketUntilItWouldBeFullAgain() {
    UserRateLimits.Buckets b = limits.attach("carol");
    b.tryAcquire(LimitedFrame.SEND);
    b.tryAcquire(LimitedFrame.SEND);
    b.release();
    UserRateLimits.Buckets again = limits.attach("carol");
    assertSame(b, again);
    assertFalse(again.tryAcquire(LimitedFrame.SEND), "reconnecting refilled nothing");
    again.release();

    now.addAndGet(BURST * SECOND); // long enough to refill from empty
    limits.attach("dave").release(); // any attach sweeps once per refill period
    assertEquals(1, limits.size(), "carol's refilled buckets were dropped, dave's are kept until refilled");
  }
}
