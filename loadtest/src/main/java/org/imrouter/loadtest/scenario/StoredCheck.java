package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.check.StreamKey;
import org.imrouter.loadtest.client.ClientSession;

/**
 * Stored == delivered at the end of a ladder: each session reads one stream back with {@code
 * sync} from where its live view began, and the count must equal the items it got live.
 */
final class StoredCheck {
  /** Items per sync page when reading streams back (the router's sync-max-limit). */
  static final int SYNC_PAGE = 500;
  /** Streams read back at once. */
  private static final int CONCURRENCY = 50;
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  private StoredCheck() {}

  /**
   * @param from the seq after which the session's live view of the stream began
   * @param problems gets a line per session whose read-back failed
   */
  static void run(List<ClientSession> sessions, String stream, ToLongFunction<ClientSession> from, Checks checks, List<String> problems) {
    for (int first = 0; first < sessions.size(); first += CONCURRENCY) {
      List<ClientSession> batch = sessions.subList(first, Math.min(sessions.size(), first + CONCURRENCY));
      List<CompletableFuture<Long>> counts = new ArrayList<>();
      for (ClientSession s : batch) {
        counts.add(s.countStored(stream, from.applyAsLong(s), SYNC_PAGE).toCompletableFuture());
      }
      for (int i = 0; i < batch.size(); i++) {
        ClientSession s = batch.get(i);
        try {
          long stored = counts.get(i).get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          checks.stored.compare(new StreamKey(s.id(), stream), stored, s.liveItems(stream));
        } catch (Exception e) {
          problems.add("stored check of " + s.user() + " on " + stream + " failed: " + e);
        }
      }
    }
  }

  /**
   * Where a session's live view of a stream it learnt of after its welcome began: the seq before
   * the first item it got (its live items are contiguous, or the gap checker has said otherwise).
   */
  static long beforeFirstLive(ClientSession s, String stream) {
    return s.lastSeq(stream) - s.liveItems(stream);
  }
}
