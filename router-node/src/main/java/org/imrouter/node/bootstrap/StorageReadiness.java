package org.imrouter.node.bootstrap;

import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSession;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.imrouter.persistence.JournalSchema;

/**
 * Readiness check for Pekko Management's {@code /ready}: the node is ready only when the journal
 * and snapshot tables answer a query through the journal's Cassandra session, so a load balancer
 * never sends clients to a node that could not accept a message (Cassandra up is not enough: a
 * missing or unreadable table fails every write).
 */
public final class StorageReadiness implements Supplier<CompletionStage<Boolean>> {
  private static final String PLUGIN_CONFIG_PATH = JournalSchema.PLUGIN;

  private final CassandraSession session;
  private final String journalProbe;
  private final String snapshotProbe;

  public StorageReadiness(ActorSystem system) {
    this.session = CassandraSessionRegistry.get(system).sessionFor(CassandraSessionSettings.create(PLUGIN_CONFIG_PATH));
    var config = system.settings().config();
    String journal = config.getString(PLUGIN_CONFIG_PATH + ".journal.keyspace") + "." + config.getString(PLUGIN_CONFIG_PATH + ".journal.table");
    String snapshots =
        config.getString(PLUGIN_CONFIG_PATH + ".snapshot.keyspace") + "." + config.getString(PLUGIN_CONFIG_PATH + ".snapshot.table");
    this.journalProbe = "SELECT persistence_id FROM " + journal + " LIMIT 1";
    this.snapshotProbe = "SELECT persistence_id FROM " + snapshots + " LIMIT 1";
  }

  @Override
  public CompletionStage<Boolean> get() {
    return session
        .selectOne(journalProbe)
        .thenCompose(r -> session.selectOne(snapshotProbe))
        .thenApply(r -> true) // an empty table answers too: what matters is that it answers
        .exceptionally(t -> false);
  }
}
