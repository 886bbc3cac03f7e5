package org.imrouter.node.stream;

import org.apache.pekko.actor.typed.ActorRef;
import org.imrouter.node.metrics.RouterMetrics;

/**
 * A command that someone waits on with a {@link Reply}, as opposed to a transfer between
 * entities, whose sender resends until acknowledged. An entity that cannot take a request in
 * (its node is fenced) still answers it.
 */
public interface Request {
  ActorRef<Reply> replyTo();

  /** What a request refused because the node's journal writes queue is told; the client retries. */
  String OVERLOADED = "node overloaded, retry";

  /**
   * Answers {@code command} with UNAVAILABLE if it is a request and the node's journal writes
   * stand in a queue ({@link JournalBacklog}); true if it did. Transfers always go in.
   *
   * @param entity the entity kind, for the metrics
   */
  static boolean shed(Object command, JournalBacklog backlog, String entity) {
    if (command instanceof Request r && backlog.standing(System.nanoTime())) {
      RouterMetrics.requestShed(entity);
      r.replyTo().tell(Reply.reject(ErrorCode.UNAVAILABLE, OVERLOADED));
      return true;
    }
    return false;
  }

  /** Answers every request among {@code commands} with UNAVAILABLE; transfers are left to their senders' resends. */
  static void refuseAll(Iterable<?> commands, String why) {
    for (Object c : commands) {
      if (c instanceof Request r) {
        r.replyTo().tell(Reply.reject(ErrorCode.UNAVAILABLE, why));
      }
    }
  }
}
