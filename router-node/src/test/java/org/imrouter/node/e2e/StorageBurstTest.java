package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.stream.connectors.cassandra.CassandraSessionSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.imrouter.node.testkit.RouterTestNode;
import org.junit.jupiter.api.Test;

/**
 * A burst of storage requests far above what one driver connection carries at once (a large
 * group created in one go wakes every member's inbox) is queued by the driver and completes,
 * instead of the excess failing at once with "No connection was available" and restarting the
 * entities that wrote it. Runs through the journal plugin's own session and profile.
 */
class StorageBurstTest {
  /** About ten times the connection's 1,024 request slots, all fired before any answer. */
  private static final int BURST = 10_000;
  private static final long BURST_TIMEOUT_SECONDS = 120;

  @Test
  void aBurstOfJournalRequestsAboveTheConnectionsSlotsIsQueuedAndCompletes() throws Exception {
    try (RouterTestNode node = new RouterTestNode("storage_burst")) {
      String keyspace = node.config().getString("pekko.persistence.cassandra.journal.keyspace");
      CqlSession cql =
          CassandraSessionRegistry.get(Adapter.toClassic(node.system()))
              .sessionFor(CassandraSessionSettings.create("pekko.persistence.cassandra"))
              .underlying()
              .toCompletableFuture()
              .get(BURST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      cql.execute("CREATE TABLE IF NOT EXISTS " + keyspace + ".burst_probe (id int PRIMARY KEY)");
      PreparedStatement insert = cql.prepare("INSERT INTO " + keyspace + ".burst_probe (id) VALUES (?)");

      List<CompletableFuture<?>> writes = new ArrayList<>(BURST);
      for (int i = 0; i < BURST; i++) {
        writes.add(cql.executeAsync(insert.bind(i).setExecutionProfileName("pekko-persistence-cassandra-profile")).toCompletableFuture());
      }
      // any refused request fails this get with its exception
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(BURST_TIMEOUT_SECONDS, TimeUnit.SECONDS);

      long stored = cql.execute("SELECT count(*) FROM " + keyspace + ".burst_probe").one().getLong(0);
      assertEquals(BURST, stored);
    }
  }
}
