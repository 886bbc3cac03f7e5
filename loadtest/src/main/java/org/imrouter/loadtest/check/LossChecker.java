package org.imrouter.loadtest.check;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * No loss: every accepted message reaches every one of its receivers. Messages are keyed by the
 * clientMsgId the sender chose (the receiver finds it in the text), because a delivery can arrive
 * before the sender's {@code accepted}.
 */
public final class LossChecker {
  /** A message that was accepted but missed some receivers. */
  public record Lost(String id, Set<String> missing) {}

  private static final class Tracked {
    final Set<String> expected;
    final Set<String> delivered = ConcurrentHashMap.newKeySet();
    volatile boolean accepted;

    Tracked(Set<String> expected) {
      this.expected = expected;
    }
  }

  private final Map<String, Tracked> messages = new ConcurrentHashMap<>();

  /** A message was sent to these receivers (session ids). */
  public void sent(String id, Set<String> receivers) {
    messages.put(id, new Tracked(Set.copyOf(receivers)));
  }

  public void accepted(String id) {
    Tracked t = messages.get(id);
    if (t != null) {
      t.accepted = true;
    }
  }

  public void delivered(String id, String receiver) {
    Tracked t = messages.get(id);
    if (t != null) {
      t.delivered.add(receiver);
    }
  }

  /** Whether a message has reached all its receivers. */
  public boolean complete(String id) {
    Tracked t = messages.get(id);
    return t != null && t.delivered.containsAll(t.expected);
  }

  /** Accepted messages that have not reached every receiver (so far). */
  public List<Lost> lost() {
    List<Lost> out = new ArrayList<>();
    messages.forEach(
        (id, t) -> {
          if (t.accepted && !t.delivered.containsAll(t.expected)) {
            Set<String> missing = ConcurrentHashMap.newKeySet();
            missing.addAll(t.expected);
            missing.removeAll(t.delivered);
            out.add(new Lost(id, Set.copyOf(missing)));
          }
        });
    return out;
  }

  /** Number of (message, receiver) deliveries missing. */
  public long lostDeliveries() {
    return lost().stream().mapToLong(l -> l.missing().size()).sum();
  }
}
