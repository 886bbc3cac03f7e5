package org.imrouter.node.delivery;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.apache.pekko.actor.Cancellable;
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
   * Like {@link #ask(ActorContext, RecipientRef, Class, Duration, Duration, Function, BiFunction)}
   * without resends.
   */
  public static <T, Req, Res> void ask(
      ActorContext<T> ctx,
      RecipientRef<Req> target,
      Class<Res> answer,
      Duration timeout,
      Function<ActorRef<Res>, Req> request,
      BiFunction<Res, Throwable, T> map) {
    ask(ctx, target, answer, timeout, null, () -> false, request, map);
  }

  /**
   * @param resendEvery when not null, the same request (same reply address) is sent again at
   *     this interval until the answer or the timeout, when {@code resendNow} says so; only for
   *     idempotent requests. The first answer wins, later ones go to dead letters.
   * @param map builds the message for the asking actor from the answer, or from the failure
   *     (timeout) with a null answer
   */
  public static <T, Req, Res> void ask(
      ActorContext<T> ctx,
      RecipientRef<Req> target,
      Class<Res> answer,
      Duration timeout,
      Duration resendEvery,
      BooleanSupplier resendNow,
      Function<ActorRef<Res>, Req> request,
      BiFunction<Res, Throwable, T> map) {
    AtomicReference<Cancellable> resends = new AtomicReference<>();
    ctx.asScala()
        .ask(
            target,
            replyTo -> {
              Req message = request.apply(replyTo);
              if (resendEvery != null) {
                resends.set(
                    ctx.getSystem()
                        .scheduler()
                        .scheduleAtFixedRate(
                            resendEvery,
                            resendEvery,
                            () -> {
                              if (resendNow.getAsBoolean()) {
                                target.tell(message);
                              }
                            },
                            ctx.getExecutionContext()));
              }
              return message;
            },
            (Try<Res> result) -> {
              Cancellable r = resends.get();
              if (r != null) {
                r.cancel();
              }
              return result.isSuccess() ? map.apply(result.get(), null) : map.apply(null, result.failed().get());
            },
            Timeout.create(timeout),
            ClassTag.apply(answer));
  }
}
