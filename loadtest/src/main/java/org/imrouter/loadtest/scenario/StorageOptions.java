package org.imrouter.loadtest.scenario;

import java.time.Duration;
import org.imrouter.loadtest.baseline.CassandraBaseline;
import org.imrouter.loadtest.cli.Flags;

/** Reads the storage baseline's flags. */
final class StorageOptions {
  static final String DEFAULT_CONTACT_POINT = "127.0.0.1:9042";
  /** What the node writes its journal with. */
  static final String DEFAULT_CONSISTENCY = "LOCAL_QUORUM";

  static final Duration DEFAULT_DURATION = Duration.ofSeconds(10);

  private StorageOptions() {}

  static CassandraBaseline.Options from(Flags flags) {
    return new CassandraBaseline.Options(
        flags.string("cassandra", DEFAULT_CONTACT_POINT),
        flags.string("cassandra-datacenter", CassandraBaseline.DEFAULT_DATACENTER),
        flags.string("baseline-keyspace", CassandraBaseline.DEFAULT_KEYSPACE),
        flags.string("baseline-replication", CassandraBaseline.DEFAULT_REPLICATION),
        CassandraBaseline.consistency(flags.string("cassandra-consistency", DEFAULT_CONSISTENCY)),
        flags.duration("baseline-seconds", DEFAULT_DURATION),
        flags.integer("baseline-in-flight", CassandraBaseline.DEFAULT_IN_FLIGHT),
        flags.integer("baseline-persistence-ids", CassandraBaseline.DEFAULT_PERSISTENCE_IDS),
        flags.integer("baseline-event-bytes", CassandraBaseline.DEFAULT_EVENT_BYTES));
  }
}
