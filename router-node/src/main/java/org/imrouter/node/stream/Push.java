package org.imrouter.node.stream;

/**
 * What is pushed to a connected session: a persisted {@link StreamItem}, or an ephemeral
 * {@link Typing} signal that is never stored.
 */
public interface Push extends ClusterMessage {

  /** User {@code from} is typing in {@code conversation} (as the recipient sees it). */
  record Typing(String from, String conversation) implements Push {}
}
