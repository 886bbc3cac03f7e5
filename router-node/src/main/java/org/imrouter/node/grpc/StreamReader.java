package org.imrouter.node.grpc;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.imrouter.node.delivery.ItemFrames;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StreamPages;
import org.imrouter.node.user.UserEntity;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.StreamItem;

/**
 * Pages of a stream for backends: from the entity's memory when it still holds them, else
 * straight from the journal. Streams are named "inbox:&lt;user&gt;" and "group:&lt;id&gt;"; items
 * of an inbox carry that name as their stream.
 */
final class StreamReader {
  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final HistoryReader journal;
  private final Duration timeout;
  private final String reader;
  private final long maxPageBytes;

  /**
   * @param reader the system identity group reads are made as ("system:…")
   * @param maxPageBytes a page is cut after the item that takes it past this (router.limits.sync-max-bytes)
   */
  StreamReader(
      ActorSystem<?> system, ClusterSharding sharding, HistoryReader journal, Duration timeout, String reader, long maxPageBytes) {
    this.system = system;
    this.sharding = sharding;
    this.journal = journal;
    this.timeout = timeout;
    this.reader = reader;
    this.maxPageBytes = maxPageBytes;
  }

  CompletionStage<History> page(BackendStream stream, long afterSeq, int limit) {
    CompletionStage<Reply> reply =
        stream.isInbox()
            ? AskPattern.ask(
                sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, stream.id()),
                replyTo -> new UserEntity.Sync(afterSeq, limit, replyTo),
                timeout,
                system.scheduler())
            : AskPattern.ask(
                sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, stream.id()),
                replyTo -> new GroupEntity.Sync(reader, afterSeq, limit, replyTo),
                timeout,
                system.scheduler());
    return reply.thenCompose(r -> toHistory(stream, r));
  }

  private CompletionStage<History> toHistory(BackendStream stream, Reply reply) {
    if (reply instanceof Reply.Rejection r) {
      return CompletableFuture.failedFuture(IngressError.of(r.code(), r.message()));
    }
    return StreamPages.resolve(reply, journal, maxPageBytes)
        .thenApply(
            page -> {
              History.Builder h = History.newBuilder().setStream(stream.name()).setHasMore(page.hasMore());
              page.items().forEach(i -> h.addItems(named(stream, ItemFrames.toClient(i))));
              return h.build();
            });
  }

  /** Inbox items say "inbox" to their owner; to a backend they say whose inbox. */
  static StreamItem named(BackendStream stream, StreamItem item) {
    if (!stream.isInbox()) {
      return item;
    }
    StreamItem.Builder b = item.toBuilder();
    if (b.hasMessage()) {
      b.getMessageBuilder().setStream(stream.name());
    } else {
      b.getSystemBuilder().setStream(stream.name());
    }
    return b.build();
  }

  static long seqOf(StreamItem item) {
    return item.hasMessage() ? item.getMessage().getSeq() : item.getSystem().getSeq();
  }
}
