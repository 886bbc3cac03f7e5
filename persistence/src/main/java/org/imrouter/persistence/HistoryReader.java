package org.imrouter.persistence;

import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Reads a stream's items straight from the journal: item seq = persistence sequence number, so a
 * page is a range read and gap-free by construction. Used when a sync reaches further back than
 * the entity keeps in memory.
 */
public final class HistoryReader {
  private final ActorSystem<?> system;
  private final CurrentEventsByPersistenceIdQuery journal;

  /** @param readJournalPluginId e.g. "pekko.persistence.cassandra.query" */
  public HistoryReader(ActorSystem<?> system, String readJournalPluginId) {
    this.system = system;
    this.journal =
        PersistenceQuery.get(system).getReadJournalFor(CurrentEventsByPersistenceIdQuery.class, readJournalPluginId);
  }

  /** Events with sequence numbers in [fromSeq, toSeq] of {@code persistenceId}, in order. */
  public CompletionStage<List<EventEnvelope>> read(String persistenceId, long fromSeq, long toSeq) {
    return journal.currentEventsByPersistenceId(persistenceId, fromSeq, toSeq).runWith(Sink.seq(), system);
  }
}
