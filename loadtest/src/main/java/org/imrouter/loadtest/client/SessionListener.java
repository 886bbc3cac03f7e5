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

  /** Both listeners hear every frame, {@code first} first (a ladder and a phase's own watcher). */
  static SessionListener both(SessionListener first, SessionListener second) {
    return new SessionListener() {
      @Override
      public void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {
        first.onAccepted(session, accepted, nowNanos);
        second.onAccepted(session, accepted, nowNanos);
      }

      @Override
      public void onMessage(ClientSession session, Message message, long nowNanos) {
        first.onMessage(session, message, nowNanos);
        second.onMessage(session, message, nowNanos);
      }

      @Override
      public void onSystem(ClientSession session, SystemItem item, long nowNanos) {
        first.onSystem(session, item, nowNanos);
        second.onSystem(session, item, nowNanos);
      }

      @Override
      public void onError(ClientSession session, String ref, String code, long nowNanos) {
        first.onError(session, ref, code, nowNanos);
        second.onError(session, ref, code, nowNanos);
      }
    };
  }

  default void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {}

  default void onMessage(ClientSession session, Message message, long nowNanos) {}

  default void onSystem(ClientSession session, SystemItem item, long nowNanos) {}

  /** An {@code error} frame; {@code ref} is the clientMsgId, requestId or stream it answers. */
  default void onError(ClientSession session, String ref, String code, long nowNanos) {}
}
