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

  /**
   * An entity's answer to a sync of its stream: the items from memory when its recent items cover
   * the range, else the journal range to read. A cursor at or past the end gets an empty last
   * page (hasMore false), and no sum can overflow: afterSeq may be any long up to 2^63 - 1 (a
   * client that follows hasMore must reach the end).
   *
   * @param limit most items in the page; at least one
   */
  public static Reply answer(
      String stream, String ownerId, String persistenceId, RecentItems recent, long lastSeq, long afterSeq, int limit) {
    return answer(stream, ownerId, persistenceId, recent, lastSeq, afterSeq, limit, List.of());
  }

  /**
   * As above, for a caller that may not read the {@code hidden} ranges (in seq order). A cursor
   * just before a hidden range moves past it, so the page starts with a readable item and a
   * client that follows hasMore never gets an empty page before the end; items hidden further
   * on are left out of the page (it may hold fewer than {@code limit}).
   */
  public static Reply answer(
      String stream, String ownerId, String persistenceId, RecentItems recent, long lastSeq, long afterSeq, int limit,
      List<SeqRange> hidden) {
    long from = Math.max(0, afterSeq);
    if (from >= lastSeq) {
      return new Reply.HistoryPage(stream, List.of(), false);
    }
    for (SeqRange h : hidden) {
      if (h.contains(from + 1)) {
        from = h.to(); // ranges are in order: the next one can only start after this one
      }
    }
    if (from >= lastSeq) {
      return new Reply.HistoryPage(stream, List.of(), false);
    }
    int size = Math.max(1, limit);
    if (recent.covers(from, lastSeq)) {
      List<StreamItem> items = recent.after(from, size);
      long last = items.isEmpty() ? from : items.get(items.size() - 1).seq();
      return new Reply.HistoryPage(stream, readable(items, hidden), last < lastSeq);
    }
    long to = lastSeq - from <= size ? lastSeq : from + size;
    long first = from + 1;
    List<SeqRange> hiddenInRange = hidden.stream().filter(h -> h.to() >= first && h.from() <= to).toList();
    return new Reply.HistoryInJournal(stream, ownerId, persistenceId, first, to, to < lastSeq, hiddenInRange);
  }

  private static List<StreamItem> readable(List<StreamItem> items, List<SeqRange> hidden) {
    if (hidden.isEmpty()) {
      return items;
    }
    return items.stream().filter(i -> hidden.stream().noneMatch(h -> h.contains(i.seq()))).toList();
  }

  /**
   * A page for a client or backend: as {@link #resolve(Reply, HistoryReader)}, but cut after the
   * item that takes it past {@code maxBytes} of stored items (always at least one item), with
   * hasMore set, so that no page outgrows what a connection may buffer.
   */
  public static CompletionStage<Page> resolve(Reply answer, HistoryReader journal, long maxBytes) {
    return resolve(answer, journal).thenApply(page -> bounded(page, maxBytes));
  }

  static Page bounded(Page page, long maxBytes) {
    long bytes = 0;
    List<StreamItem> items = page.items();
    for (int i = 0; i < items.size(); i++) {
      bytes += items.get(i).storedBytes();
      if (bytes > maxBytes && i + 1 < items.size()) {
        return new Page(List.copyOf(items.subList(0, i + 1)), true);
      }
    }
    return page;
  }

  /** @param answer a {@link Reply.HistoryPage} or {@link Reply.HistoryInJournal} */
  public static CompletionStage<Page> resolve(Reply answer, HistoryReader journal) {
    if (answer instanceof Reply.HistoryPage page) {
      return CompletableFuture.completedFuture(new Page(page.items(), page.hasMore()));
    }
    Reply.HistoryInJournal range = (Reply.HistoryInJournal) answer;
    return journal
        .read(range.persistenceId(), range.fromSeq(), range.toSeq())
        .thenApply(events -> new Page(
            readable(events.stream().map(e -> item(range.ownerId(), e)).toList(), range.hidden()), range.hasMore()));
  }

  private static StreamItem item(String ownerId, EventEnvelope envelope) {
    if (envelope.event() instanceof InboxEvent event) {
      return new StreamItem.Inbox(ownerId, envelope.sequenceNr(), event);
    }
    return new StreamItem.Group(ownerId, envelope.sequenceNr(), (GroupEvent) envelope.event());
  }
}
