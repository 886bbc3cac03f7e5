package org.imrouter.node.stream;

import io.vavr.collection.Vector;
import java.util.List;

/**
 * The last {@code capacity} items of a stream, kept in entity state so that the common sync
 * (a device that was away briefly) is served from memory instead of the journal.
 */
public record RecentItems(Vector<StreamItem> items, int capacity) {

  public static RecentItems empty(int capacity) {
    return new RecentItems(Vector.empty(), capacity);
  }

  public RecentItems add(StreamItem item) {
    Vector<StreamItem> added = items.append(item);
    return new RecentItems(added.size() > capacity ? added.drop(added.size() - capacity) : added, capacity);
  }

  /** Lowest seq held, or lastSeq + 1 when empty. */
  public long firstSeq(long lastSeq) {
    return items.isEmpty() ? lastSeq + 1 : items.head().seq();
  }

  /** True when every item after {@code afterSeq} is held in memory. */
  public boolean covers(long afterSeq, long lastSeq) {
    return afterSeq + 1 >= firstSeq(lastSeq);
  }

  /** Up to {@code limit} items with seq greater than {@code afterSeq}, in order. */
  public List<StreamItem> after(long afterSeq, int limit) {
    return items.filter(i -> i.seq() > afterSeq).take(limit).toJavaList();
  }
}
