package org.imrouter.loadtest.client;

import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.SystemItem;

/**
 * What a scenario wants to hear of a session's frames, with the {@link System#nanoTime()} at
 * which each arrived. Called on the connection's event-loop thread, which all sessions share:
 * implementations must be thread-safe, quick and never block. The session has already fed pushed items to the checkers.
 */
public interface SessionListener {
  SessionListener NONE = new SessionListener() {};

  default void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {}

  default void onMessage(ClientSession session, Message message, long nowNanos) {}

  default void onSystem(ClientSession session, SystemItem item, long nowNanos) {}

  /** An {@code error} frame; {@code ref} is the clientMsgId, requestId or stream it answers. */
  default void onError(ClientSession session, String ref, String code, long nowNanos) {}
}
