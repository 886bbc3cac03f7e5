package org.imrouter.node.bootstrap;

import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSession;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;

/**
 * Readiness check for Pekko Management's {@code /ready}: the node is ready only when the journal's
 * Cassandra session answers a query, so a load balancer never sends clients to a node that
 * could not accept a message.
 */
public final class StorageReadiness implements Supplier<CompletionStage<Boolean>> {
  private static final String PLUGIN_CONFIG_PATH = "pekko.persistence.cassandra";
  private static final String PROBE = "SELECT release_version FROM system.local";

  private final CassandraSession session;

  public StorageReadiness(ActorSystem system) {
    this.session = CassandraSessionRegistry.get(system).sessionFor(CassandraSessionSettings.create(PLUGIN_CONFIG_PATH));
  }

  @Override
  public CompletionStage<Boolean> get() {
    return session.selectOne(PROBE).thenApply(row -> row.isPresent()).exceptionally(t -> false);
  }
}
