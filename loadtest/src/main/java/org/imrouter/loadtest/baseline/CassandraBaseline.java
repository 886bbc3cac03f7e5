package org.imrouter.loadtest.baseline;

import com.datastax.oss.driver.api.core.ConsistencyLevel;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.DefaultConsistencyLevel;
import com.datastax.oss.driver.api.core.config.DefaultDriverOption;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.uuid.Uuids;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.LongAdder;
import org.imrouter.loadtest.metrics.LatencyStats;
import org.imrouter.loadtest.report.StorageBaseline;

/**
 * The storage baseline: inserts rows of exactly the Pekko Persistence Cassandra journal's shape
 * into a scratch keyspace through the same Java driver, with a prepared statement, asynchronously
 * and with a bounded number in flight, spread over many persistence ids like many entities. What
 * it reaches is the most any journal-backed router could write on this Cassandra.
 */
public final class CassandraBaseline {
  /** Settings of one measurement. */
  public record Options(
      String contactPoint,
      String localDatacenter,
      String keyspace,
      String replication,
      ConsistencyLevel consistency,
      Duration duration,
      int inFlight,
      int persistenceIds,
      int eventBytes) {}

  public static final String DEFAULT_KEYSPACE = "im_router_baseline";
  public static final String DEFAULT_REPLICATION = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
  public static final String DEFAULT_DATACENTER = "datacenter1";
  public static final int DEFAULT_IN_FLIGHT = 256;
  public static final int DEFAULT_PERSISTENCE_IDS = 1000;
  /** About the size of a serialized direct-message event. */
  public static final int DEFAULT_EVENT_BYTES = 200;

  /** Journal writes per direct message: the sender's copy and the recipient's. */
  public static final int WRITES_PER_DIRECT_MESSAGE = 2;

  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration SCHEMA_TIMEOUT = Duration.ofSeconds(60);
  /** The journal's serializer id and manifest are irrelevant to Cassandra; any fixed values do. */
  private static final int SER_ID = 1;
  private static final String SER_MANIFEST = "baseline";
  private static final DateTimeFormatter TIME_BUCKET =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HH").withZone(ZoneOffset.UTC);

  /** The journal's messages table (pekko-persistence-cassandra 1.1.0), column for column. */
  private static final String TABLE =
      """
      CREATE TABLE IF NOT EXISTS %s.messages (
        persistence_id text, partition_nr bigint, sequence_nr bigint, timestamp timeuuid,
        timebucket text, writer_uuid text, ser_id int, ser_manifest text, event_manifest text,
        event blob, meta_ser_id int, meta_ser_manifest text, meta blob, tags set<text>,
        PRIMARY KEY ((persistence_id, partition_nr), sequence_nr, timestamp))
      """;

  private static final String INSERT =
      "INSERT INTO %s.messages (persistence_id, partition_nr, sequence_nr, timestamp, timebucket,"
          + " writer_uuid, ser_id, ser_manifest, event_manifest, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  private CassandraBaseline() {}

  public static StorageBaseline run(Options o) throws InterruptedException {
    String[] hostPort = o.contactPoint().split(":");
    DriverConfigLoader config =
        DriverConfigLoader.programmaticBuilder()
            .withDuration(DefaultDriverOption.REQUEST_TIMEOUT, REQUEST_TIMEOUT)
            .withDuration(DefaultDriverOption.METADATA_SCHEMA_REQUEST_TIMEOUT, SCHEMA_TIMEOUT)
            .withDuration(DefaultDriverOption.CONTROL_CONNECTION_AGREEMENT_TIMEOUT, SCHEMA_TIMEOUT)
            .build();
    try (CqlSession session =
        CqlSession.builder()
            .addContactPoint(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])))
            .withLocalDatacenter(o.localDatacenter())
            .withConfigLoader(config)
            .build()) {
      session.execute(
          "CREATE KEYSPACE IF NOT EXISTS " + o.keyspace() + " WITH replication = " + o.replication());
      session.execute(String.format(TABLE, o.keyspace()));
      PreparedStatement insert = session.prepare(String.format(INSERT, o.keyspace()));
      return measure(session, insert, o);
    }
  }

  private static StorageBaseline measure(CqlSession session, PreparedStatement insert, Options o) throws InterruptedException {
    Semaphore inFlight = new Semaphore(o.inFlight());
    LatencyStats latency = new LatencyStats();
    LongAdder done = new LongAdder();
    Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    ByteBuffer event = ByteBuffer.wrap(new byte[o.eventBytes()]);
    String writer = UUID.randomUUID().toString();
    // fresh persistence ids each run, so rows never collide with an earlier run's
    String run = Long.toString(System.currentTimeMillis(), Character.MAX_RADIX);
    long[] sequenceNrs = new long[o.persistenceIds()];
    long start = System.nanoTime();
    long end = start + o.duration().toNanos();
    long n = 0;
    while (System.nanoTime() < end) {
      inFlight.acquire();
      int id = (int) (n++ % o.persistenceIds());
      long began = System.nanoTime();
      session
          .executeAsync(
              insert
                  .bind(
                      "baseline-" + run + "-" + id,
                      0L,
                      ++sequenceNrs[id],
                      Uuids.timeBased(),
                      TIME_BUCKET.format(Instant.now()),
                      writer,
                      SER_ID,
                      SER_MANIFEST,
                      "",
                      event.duplicate())
                  .setConsistencyLevel(o.consistency()))
          .whenComplete(
              (rs, failure) -> {
                if (failure == null) {
                  latency.recordNanos(System.nanoTime() - began);
                  done.increment();
                } else {
                  errors.computeIfAbsent(failure.getClass().getSimpleName(), k -> new LongAdder()).increment();
                }
                inFlight.release();
              });
    }
    inFlight.acquire(o.inFlight()); // wait for the last ones
    double seconds = (System.nanoTime() - start) / 1e9;
    Map<String, Long> errorCounts = new TreeMap<>();
    errors.forEach((k, v) -> errorCounts.put(k, v.sum()));
    double perSecond = done.sum() / seconds;
    return new StorageBaseline(
        o.consistency().name(),
        o.inFlight(),
        seconds,
        done.sum(),
        perSecond,
        latency.percentiles(),
        errorCounts,
        perSecond / WRITES_PER_DIRECT_MESSAGE);
  }

  public static ConsistencyLevel consistency(String name) {
    return DefaultConsistencyLevel.valueOf(name.trim().toUpperCase());
  }
}
