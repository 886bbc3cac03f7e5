package org.imrouter.node.stream;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.InboxEvent;

/**
 * Turns an entity's answer to a sync into the page of items it stands for: the items it carries
 * from memory, or the range it names, read from the journal. Every reader of history (sessions,
 * gateways filling gaps, the gRPC ingress) goes through here.
 */
public final class StreamPages {
  private StreamPages() {}

  /** A page of one stream, in seq order. */
  public record Page(List<StreamItem> items, boolean hasMore) {}

  /** @param answer a {@link Reply.HistoryPage} or {@link Reply.HistoryInJournal} */
  public static CompletionStage<Page> resolve(Reply answer, HistoryReader journal) {
    if (answer instanceof Reply.HistoryPage page) {
      return CompletableFuture.completedFuture(new Page(page.items(), page.hasMore()));
    }
    Reply.HistoryInJournal range = (Reply.HistoryInJournal) answer;
    return journal
        .read(range.persistenceId(), range.fromSeq(), range.toSeq())
        .thenApply(events -> new Page(events.stream().map(e -> item(range.ownerId(), e)).toList(), range.hasMore()));
  }

  private static StreamItem item(String ownerId, EventEnvelope envelope) {
    if (envelope.event() instanceof InboxEvent event) {
      return new StreamItem.Inbox(ownerId, envelope.sequenceNr(), event);
    }
    return new StreamItem.Group(ownerId, envelope.sequenceNr(), (GroupEvent) envelope.event());
  }
}
