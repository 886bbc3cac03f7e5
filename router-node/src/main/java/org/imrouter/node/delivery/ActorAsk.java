package org.imrouter.node.delivery;

import java.time.Duration;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.util.Timeout;
import scala.reflect.ClassTag;
import scala.util.Try;

/**
 * Asks from inside an actor with the answer delivered to the actor as a message, like the Java
 * {@code ActorContext.ask}, but through Pekko's Scala API.
 *
 * <p>Why: the Java API turns the answer into a {@code CompletionStage} and completes it on
 * another thread of the common pool, a thread hop and several allocations per request. The
 * Scala API completes on the answering thread and just enqueues the mapped message, which is
 * also why the answer reaches the asking actor in the order the answering actor sent it,
 * relative to its other messages (a session relies on that: an {@code accepted} is not overtaken
 * by the pushes its entity sends after it). Every send of a session goes through here.
 */
public final class ActorAsk {
  private ActorAsk() {}

  /**
   * @param map builds the message for the asking actor from the answer, or from the failure
   *     (timeout) with a null answer
   */
  public static <T, Req, Res> void ask(
      ActorContext<T> ctx,
      RecipientRef<Req> target,
      Class<Res> answer,
      Duration timeout,
      Function<ActorRef<Res>, Req> request,
      BiFunction<Res, Throwable, T> map) {
    ctx.asScala()
        .ask(
            target,
            request::apply,
            (Try<Res> result) -> result.isSuccess() ? map.apply(result.get(), null) : map.apply(null, result.failed().get()),
            Timeout.create(timeout),
            ClassTag.apply(answer));
  }
}
