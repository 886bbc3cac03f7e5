package org.imrouter.node.stream;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * A command that someone waits on with a {@link Reply}, as opposed to a transfer between
 * entities, whose sender resends until acknowledged. An entity that cannot take a request in
 * (its node is fenced) still answers it.
 */
public interface Request {
  /** Why an entity whose journal failed it, or that stopped, refuses what it had not written. */
  String NOT_WRITTEN = "storage failed before this was written, retry later with the same id";

  /** Why an entity refuses a request when too many of its writes wait for slow storage. */
  String BEHIND = "storage is behind on this conversation, retry later with the same id";

  ActorRef<Reply> replyTo();

  /** Answers every request among {@code commands} with UNAVAILABLE; transfers are left to their senders' resends. */
  static void refuseAll(Iterable<?> commands, String why) {
    for (Object c : commands) {
      if (c instanceof Request r) {
        r.replyTo().tell(Reply.reject(ErrorCode.UNAVAILABLE, why));
      }
    }
  }
}
