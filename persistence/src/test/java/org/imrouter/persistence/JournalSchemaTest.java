package org.imrouter.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.datastax.oss.driver.api.core.uuid.Uuids;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSession;
import org.apache.pekko.stream.connectors.cassandra.javadsl.CassandraSessionRegistry;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A journal write that lands after its writer gave up on it (the driver timed it out while
 * Cassandra still held it) and after the entity's successor wrote the same sequence number must
 * not come back: recovery and history reads return what the successor wrote, once.
 */
class JournalSchemaTest {
  private static final String KEYSPACE = "journal_schema_test";
  private static final Duration TIMEOUT = Duration.ofSeconds(60);
  /** how much earlier the stale incarnation made its write than its successor made its own */
  private static final long STALE_BY_MICROS = TimeUnit.SECONDS.toMicros(5);

  private static ActorTestKit testKit;
  private static CassandraSession session;

  @BeforeAll
  static void start() {
    Config config =
        ConfigFactory.parseString(
                String.join(
                    "\n",
                    "pekko.actor.provider = local",
                    "pekko.persistence.cassandra.journal.keyspace = " + KEYSPACE,
                    "pekko.persistence.cassandra.snapshot.keyspace = " + KEYSPACE + "_snap",
                    "datastax-java-driver.basic.contact-points = [\"" + EmbeddedCassandra.sharedForTests().contactPoint() + "\"]"))
            .withFallback(ConfigFactory.parseResources("persistence.conf"))
            .withFallback(ConfigFactory.load())
            .resolve();
    testKit = ActorTestKit.create("journal-schema", config);
    JournalSchema.prepare(testKit.system(), TIMEOUT);
    session = CassandraSessionRegistry.get(testKit.system()).sessionFor(JournalSchema.PLUGIN);
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @Test
  void theJournalIsKeyedBySequenceNumberWithoutTheWriteTimestamp() {
    assertEquals(List.of("sequence_nr"), JournalSchema.journalKey(testKit.system(), TIMEOUT));
  }

  @Test
  void aStaleWriteThatLandsLateIsOverwrittenBySuccessorsWrite() throws Exception {
    String pid = "stale-write";
    ActorRef<Log.Append> first = testKit.spawn(Log.create(pid));
    TestProbe<List<String>> probe = testKit.createTestProbe();
    first.tell(new Log.Append("m1", probe.ref()));
    probe.expectMessage(List.of("m1"));
    first.tell(new Log.Append("m2-acknowledged", probe.ref()));
    probe.expectMessage(List.of("m1", "m2-acknowledged"));
    testKit.stop(first);

    // the predecessor's write of seq 2, made 5 s before the successor's, arrives only now
    Row acked =
        session
            .selectOne("SELECT * FROM " + KEYSPACE + ".messages WHERE persistence_id = ? AND partition_nr = 0 AND sequence_nr = 2", pid)
            .toCompletableFuture()
            .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)
            .orElseThrow();
    long ackedWriteTime =
        session
            .selectOne(
                "SELECT writetime(event) AS w FROM " + KEYSPACE + ".messages WHERE persistence_id = ? AND partition_nr = 0 AND sequence_nr = 2",
                pid)
            .toCompletableFuture()
            .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)
            .orElseThrow()
            .getLong("w");
    long staleWriteTime = ackedWriteTime - STALE_BY_MICROS;
    session
        .executeWrite(
            SimpleStatement.newInstance(
                    "INSERT INTO " + KEYSPACE + ".messages (persistence_id, partition_nr, sequence_nr, timestamp, timebucket,"
                        + " writer_uuid, ser_id, ser_manifest, event_manifest, event, tags) VALUES (?, 0, 2, ?, ?, ?, ?, ?, ?, ?, ?)",
                    pid,
                    Uuids.startOf(staleWriteTime / 1_000),
                    acked.getString("timebucket"),
                    "the-stale-incarnation",
                    SerializationExtension.get(testKit.system()).findSerializerFor("").identifier(),
                    "",
                    "",
                    ByteBuffer.wrap("m2-never-acknowledged".getBytes(StandardCharsets.UTF_8)),
                    java.util.Set.of())
                .setQueryTimestamp(staleWriteTime))
        .toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

    // history reads see what the successor wrote, once
    List<EventEnvelope> history = new HistoryReader(testKit.system(), "pekko.persistence.cassandra.query").read(pid, 1, Long.MAX_VALUE)
        .toCompletableFuture()
        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(List.of("m1", "m2-acknowledged"), history.stream().map(e -> (String) e.event()).toList());
    // and so does the next incarnation's recovery
    ActorRef<Log.Append> next = testKit.spawn(Log.create(pid));
    next.tell(new Log.Append("m3", probe.ref()));
    probe.expectMessage(List.of("m1", "m2-acknowledged", "m3"));
  }

  /** The smallest event-sourced entity: appends strings and answers with all it has. */
  static final class Log extends EventSourcedBehavior<Log.Append, String, List<String>> {
    record Append(String text, ActorRef<List<String>> replyTo) {}

    static org.apache.pekko.actor.typed.Behavior<Append> create(String id) {
      return Behaviors.setup(ctx -> new Log(PersistenceId.ofUniqueId(id)));
    }

    private Log(PersistenceId id) {
      super(id);
    }

    @Override
    public List<String> emptyState() {
      return List.of();
    }

    @Override
    public CommandHandler<Append, String, List<String>> commandHandler() {
      return newCommandHandlerBuilder()
          .forAnyState()
          .onCommand(Append.class, (state, c) -> Effect().persist(c.text()).thenReply(c.replyTo(), s -> s))
          .build();
    }

    @Override
    public EventHandler<List<String>, String> eventHandler() {
      return newEventHandlerBuilder()
          .forAnyState()
          .onEvent(String.class, (state, e) -> {
            List<String> next = new ArrayList<>(state);
            next.add(e);
            return List.copyOf(next);
          })
          .build();
    }
  }
}
