package org.imrouter.node.grpc;

import io.grpc.Status;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BufferOverflowException;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.imrouter.node.delivery.ItemFrames;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.v1.StreamItem;

/**
 * {@code Subscribe(stream, afterSeq)}: history, then live, with no gap and no duplicate at the
 * boundary. The live feed is registered first; the entity answers with its last seq L at that
 * moment, so everything up to L is history (read page by page, with backpressure) and everything
 * after L arrives live, in order. Live items wait in a bounded buffer while history streams; a
 * subscriber that lets it overflow is ended with RESOURCE_EXHAUSTED (resubscribe from the last
 * seq received) instead of growing memory without bound.
 */
final class Subscriptions {
  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final StreamReader reader;
  private final int bufferSize;
  private final int pageSize;

  Subscriptions(ActorSystem<?> system, ClusterSharding sharding, StreamReader reader, int bufferSize, int pageSize) {
    this.system = system;
    this.sharding = sharding;
    this.reader = reader;
    this.bufferSize = bufferSize;
    this.pageSize = pageSize;
  }

  Source<StreamItem, NotUsed> subscribe(BackendStream stream, long afterSeq) {
    Pair<ActorRef<Object>, Source<Object, NotUsed>> live =
        ActorSource.actorRef(m -> false, m -> Optional.<Throwable>empty(), bufferSize, OverflowStrategy.fail())
            .preMaterialize(system);
    ActorRef<Object> feed = live.first();
    if (stream.isInbox()) {
      sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, stream.id()).tell(new UserEntity.Follow(feed.narrow(), feed.narrow()));
    } else {
      sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, stream.id()).tell(new GroupEntity.Watch(feed.narrow(), Set.of()));
    }
    return live.second()
        .prefixAndTail(1)
        .flatMapConcat(
            first -> {
              Object registered = first.first().get(0);
              watchEntity(registered, feed);
              long registeredAt = lastSeqOf(registered);
              return history(stream, afterSeq, registeredAt).concat(first.second().mapConcat(m -> liveItems(stream, m)));
            })
        .statefulMapConcat(
            () -> {
              long[] last = {afterSeq};
              return item -> {
                long seq = StreamReader.seqOf(item);
                if (seq <= last[0]) {
                  return List.of(); // already sent (the replay/live overlap)
                }
                last[0] = seq;
                return List.of(item);
              };
            })
        .mapError(
            BufferOverflowException.class,
            e -> new GrpcServiceException(
                Status.RESOURCE_EXHAUSTED.withDescription("RATE_LIMITED: subscriber too slow; resubscribe from the last seq")));
  }

  private static long lastSeqOf(Object registered) {
    if (registered instanceof UserEntity.Following f) {
      return f.lastSeq();
    }
    return ((GroupEntity.Watching) registered).lastSeq();
  }

  /** The followed entity stopped (moved to another node, or its node died). */
  private enum EntityGone {
    INSTANCE
  }

  /**
   * Live items come from one incarnation of the entity; when it stops (rebalance, node loss) no
   * more would come. A small watcher ends the subscription then, with UNAVAILABLE, so the backend
   * resubscribes from its last seq instead of waiting on a silent stream. The watcher stops with
   * the subscription.
   */
  private void watchEntity(Object registered, ActorRef<Object> feed) {
    ActorRef<?> entity =
        registered instanceof UserEntity.Following f ? f.entity() : ((GroupEntity.Watching) registered).group();
    system.systemActorOf(
        Behaviors.setup(
            ctx -> {
              ctx.watch(entity);
              ctx.watch(feed);
              return Behaviors.receive(Object.class)
                  .onSignal(
                      Terminated.class,
                      t -> {
                        if (t.getRef().equals(entity)) {
                          feed.tell(EntityGone.INSTANCE);
                        }
                        return Behaviors.stopped();
                      })
                  .build();
            }),
        "subscription-watch-" + UUID.randomUUID(),
        Props.empty());
  }

  /** Items (afterSeq, until], page by page: each page is read only when the previous was taken. */
  private Source<StreamItem, NotUsed> history(BackendStream stream, long afterSeq, long until) {
    return Source.unfoldAsync(
            afterSeq,
            cursor -> {
              if (cursor >= until) {
                return java.util.concurrent.CompletableFuture.completedFuture(Optional.empty());
              }
              return reader
                  .page(stream, cursor, (int) Math.min(pageSize, until - cursor))
                  .thenApply(
                      page -> {
                        List<StreamItem> items = page.getItemsList();
                        if (items.isEmpty()) {
                          // items up to `until` exist: a page without them must not pass as the end
                          throw IngressError.of(
                              org.imrouter.node.stream.ErrorCode.UNAVAILABLE,
                              "history after seq " + cursor + " could not be read; resubscribe from it");
                        }
                        return Optional.of(Pair.create(StreamReader.seqOf(items.get(items.size() - 1)), items));
                      });
            })
        .mapConcat(items -> items);
  }

  private static List<StreamItem> liveItems(BackendStream stream, Object message) {
    if (message == EntityGone.INSTANCE) {
      throw IngressError.of(
          org.imrouter.node.stream.ErrorCode.UNAVAILABLE, "the stream moved to another node; resubscribe from the last seq");
    }
    if (message instanceof org.imrouter.node.stream.StreamItem item) {
      return List.of(StreamReader.named(stream, ItemFrames.toClient(item)));
    }
    if (message instanceof GroupEntity.FeedItem fi) {
      return List.of(ItemFrames.toClient(fi.item()));
    }
    return List.of(); // typing signals and re-registrations are not stream items
  }
}
