package org.imrouter.node.stream;

import java.util.List;

/**
 * What entities answer to requests. One sealed family so a session can hold one reply adapter;
 * each request documents which of these it may get.
 */
public sealed interface Reply extends ClusterMessage {

  /** The item was written to the journal: the send is durable. */
  record Accepted(String clientMsgId, String stream, long seq, String msgId, long ts)
      implements Reply {}

  /** The request was refused; nothing was written. */
  record Rejection(ErrorCode code, String message) implements Reply {}

  /** A membership or cursor request took effect. */
  record Done() implements Reply {}

  /** Items of a stream served from the entity's memory. */
  record HistoryPage(String stream, List<StreamItem> items, boolean hasMore) implements Reply {}

  /**
   * The caller may read this stream and the items are no longer in memory: read persistence
   * sequence numbers [fromSeq, toSeq] of persistenceId (the entity {@code ownerId}) from the
   * journal ({@link StreamPages#resolve}), leaving out the {@code hidden} ranges (seqs the caller
   * may not read).
   */
  record HistoryInJournal(
      String stream, String ownerId, String persistenceId, long fromSeq, long toSeq, boolean hasMore, List<SeqRange> hidden)
      implements Reply {}

  /**
   * Whether an ask's outcome leaves the request possibly unwritten: no answer in time, or
   * UNAVAILABLE (a retry with the same id is safe and needed). Any other answer is final.
   */
  static boolean mayBeUnwritten(Reply reply, Throwable failure) {
    return failure != null || reply instanceof Rejection r && r.code() == ErrorCode.UNAVAILABLE;
  }

  static Rejection reject(ErrorCode code, String message) {
    return new Rejection(code, message);
  }
}
