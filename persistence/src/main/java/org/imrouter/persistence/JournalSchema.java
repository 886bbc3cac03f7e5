package org.imrouter.persistence;

import com.datastax.oss.driver.api.core.cql.Row;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.persistence.cassandra.KeyspaceAndTableStatements;
import org.apache.pekko.persistence.cassandra.PluginSettings;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSession;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The journal and snapshot schema: the persistence plugin's own keyspaces and tables, with one
 * change. The plugin keys a journal row by (persistence id, partition, sequence number, write
 * timestamp); here the key ends at the sequence number.
 *
 * <p>Why: a journal write can land after its writer gave up on it. The driver times a write out
 * while Cassandra still holds it (overloaded, paused, or partitioned away), the entity restarts,
 * and its next incarnation (on this node or, after a failover, on another) writes the same
 * sequence number again. With the write timestamp in the key both rows stay, and recovery and
 * history reads return the one nobody acknowledged beside, or instead of, the one clients were
 * told about. Keyed by sequence number, the two writes are one row, and Cassandra keeps the one
 * with the later write time: the driver stamps each write when it is made (client-side
 * timestamps), and the successor writes after its predecessor's write timed out, so the
 * successor's write always wins, whenever the stale one arrives. This is the storage-side fence
 * behind the in-process one (MajorityFence); docs/decisions/0014-journal-key-fence.md.
 *
 * <p>The plugin reads rows by sequence number range only, so it works with either key. Nodes
 * create this schema themselves when the plugin's autocreate settings are on (dev and tests),
 * before the plugin's own autocreate, which then finds every table in place; production applies
 * {@link SchemaScript}'s output, built from the same statements.
 */
public final class JournalSchema {
  private static final Logger log = LoggerFactory.getLogger(JournalSchema.class);
  /** The plugin's configuration path; the journal and the snapshot store share its session. */
  public static final String PLUGIN = "pekko.persistence.cassandra";
  /** The messages table's key as the plugin writes it, and as this project creates it. */
  static final String PLUGIN_MESSAGES_KEY = "PRIMARY KEY ((persistence_id, partition_nr), sequence_nr, timestamp))";
  static final String MESSAGES_KEY = "PRIMARY KEY ((persistence_id, partition_nr), sequence_nr))";
  private static final String COLUMNS =
      "SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?";

  private JournalSchema() {}

  /** Every create statement: the keyspaces, then their tables (what production applies). */
  static List<String> all(ClassicActorSystemProvider system) {
    KeyspaceAndTableStatements statements = statements(system);
    List<String> all = new ArrayList<>();
    all.add(statements.createJournalKeyspaceStatement());
    all.addAll(journalTables(statements));
    all.add(statements.createSnapshotKeyspaceStatement());
    all.addAll(statements.getCreateSnapshotTablesStatements());
    return all;
  }

  /**
   * Creates what the plugin's autocreate settings ask for (keyspaces, tables, or nothing), with
   * this project's journal key, and waits until it exists; then warns if the journal table in use
   * has the plugin's key. Call it before anything persists: the plugin's own autocreate then only
   * finds existing tables.
   */
  public static void prepare(ClassicActorSystemProvider system, Duration timeout) {
    PluginSettings settings = PluginSettings.apply(system.classicSystem());
    KeyspaceAndTableStatements statements = new KeyspaceAndTableStatements(system, PLUGIN, settings);
    List<String> wanted = new ArrayList<>();
    if (settings.journalSettings().keyspaceAutoCreate()) {
      wanted.add(statements.createJournalKeyspaceStatement());
    }
    if (settings.journalSettings().tablesAutoCreate()) {
      wanted.addAll(journalTables(statements));
    }
    if (settings.snapshotSettings().keyspaceAutoCreate()) {
      wanted.add(statements.createSnapshotKeyspaceStatement());
    }
    if (settings.snapshotSettings().tablesAutoCreate()) {
      wanted.addAll(statements.getCreateSnapshotTablesStatements());
    }
    // the registry's session for the plugin's path is the one the plugin will use; its own
    // create-on-first-use hook is not run for a session that exists already, and everything it
    // would create is in `wanted`
    CassandraSession session = CassandraSessionRegistry.get(system).sessionFor(PLUGIN);
    for (String cql : wanted) {
      await(session.executeDDL(cql), timeout, "create the journal schema");
    }
    List<String> key = journalKey(system, settings, timeout);
    String table = settings.journalSettings().table();
    if (key.contains("timestamp")) {
      // a keyspace created before this project changed the key (or by the plugin itself)
      log.warn(
          "journal table {}.{} is keyed by {}: a write that lands after its entity was replaced stays beside the"
              + " successor's instead of being overwritten. Move to the key of ops/cassandra/schema.cql"
              + " (docs/decisions/0014-journal-key-fence.md)",
          settings.journalSettings().keyspace(),
          table,
          key);
    } else {
      log.info("journal schema in place ({} statements run; rows keyed by {})", wanted.size(), key);
    }
  }

  /** The clustering columns of the journal table in use, in key order. */
  public static List<String> journalKey(ClassicActorSystemProvider system, Duration timeout) {
    return journalKey(system, PluginSettings.apply(system.classicSystem()), timeout);
  }

  private static List<String> journalKey(ClassicActorSystemProvider system, PluginSettings settings, Duration timeout) {
    CassandraSession session = CassandraSessionRegistry.get(system).sessionFor(PLUGIN);
    List<Row> columns =
        await(
            session.selectAll(COLUMNS, settings.journalSettings().keyspace(), settings.journalSettings().table()),
            timeout,
            "read the journal schema");
    return columns.stream()
        .filter(c -> c.getString("kind").equals("clustering"))
        .sorted(Comparator.comparingInt(c -> c.getInt("position")))
        .map(c -> c.getString("column_name"))
        .toList();
  }

  private static <T> T await(CompletionStage<T> stage, Duration timeout, String what) {
    try {
      return stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted: " + what, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("could not " + what + " within " + timeout, e);
    }
  }

  /** The plugin's journal tables, the messages table keyed without the write timestamp. */
  static List<String> journalTables(KeyspaceAndTableStatements statements) {
    List<String> tables = new ArrayList<>();
    int rekeyed = 0;
    for (String cql : statements.getCreateJournalTablesStatements()) {
      if (cql.contains(PLUGIN_MESSAGES_KEY)) {
        tables.add(cql.replace(PLUGIN_MESSAGES_KEY, MESSAGES_KEY));
        rekeyed++;
      } else {
        tables.add(cql);
      }
    }
    if (rekeyed != 1) {
      // a plugin upgrade changed its DDL: decide again, do not silently lose the fence
      throw new IllegalStateException("expected one journal table keyed " + PLUGIN_MESSAGES_KEY + ", found " + rekeyed);
    }
    return tables;
  }

  private static KeyspaceAndTableStatements statements(ClassicActorSystemProvider system) {
    return new KeyspaceAndTableStatements(system, PLUGIN, PluginSettings.apply(system.classicSystem()));
  }
}
