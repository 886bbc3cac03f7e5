package org.imrouter.node.stream;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Coalesces typing signals into a conversation: of the signals with one key (the other party of
 * a direct conversation, the member typing in a group) at most one passes per window; the rest
 * are dropped, never queued. A client that reports every keystroke then costs its recipients one
 * notice per window, and a burst of typing cannot sit in a gateway's or a session's queue ahead of
 * messages.
 *
 * <p>Kept outside the journal by the entity that owns the conversation (typing is never stored);
 * losing it on a restart lets one more notice through. Keys whose window has passed are swept at
 * most once per window, so memory is bounded by the keys active within about two windows.
 */
public final class TypingWindow {
  private final long windowMillis;
  private final Clock clock;
  private final Map<String, Long> passedAt = new HashMap<>();
  private long sweptAt;

  public TypingWindow(Duration window, Clock clock) {
    this.windowMillis = window.toMillis();
    this.clock = clock;
    this.sweptAt = clock.millis();
  }

  /** Whether a typing signal with {@code key} goes out now (and starts a new window for it). */
  public boolean pass(String key) {
    long now = clock.millis();
    sweep(now);
    Long last = passedAt.get(key);
    if (last != null && now - last < windowMillis) {
      return false;
    }
    passedAt.put(key, now);
    return true;
  }

  /** Keys with a window still open (for tests). */
  int size() {
    return passedAt.size();
  }

  private void sweep(long now) {
    if (now - sweptAt < windowMillis) {
      return;
    }
    sweptAt = now;
    passedAt.values().removeIf(at -> now - at >= windowMillis);
  }
}
