package org.imrouter.persistence.embedded;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.Row;
import org.imrouter.persistence.embedded.EmbeddedCassandra.Settings;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Starts real Cassandra servers: each test owns its own child JVM and directory under target/. */
class EmbeddedCassandraTest {

    /** Cold start on a busy 2-core machine takes up to ~20 s; this only bounds a broken start. */
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
    /** SIGTERM drain and flush took 8-15 s on a busy machine. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** Exit after end-of-file on stdin runs the same drain as SIGTERM. */
    private static final Duration WATCHDOG_EXIT_TIMEOUT = Duration.ofSeconds(60);
    /** Plenty for a keyspace, a table and a row; keeps two servers on a small machine possible. */
    private static final int TEST_HEAP_MB = 256;

    /** The run's group window as cassandra.yaml and the settings table spell it. */
    private static final String DURABLE_WINDOW = CommitLogSync.DURABLE_DEFAULT.window().toMillis() + "ms";

    private static final String KEYSPACE = "embedded_test";
    private static final String MESSAGE_ID = "m-1";
    private static final String MESSAGE_BODY = "still here after a restart";

    @Test
    void dataWrittenBeforeAStopIsReadAfterARestartOnTheSameDirectory() throws IOException {
        Path dataDir = newDirectoryUnderTarget("cassandra-restart-");
        // the run command's settings (a reused directory: the second start must find what the
        // first one wrote), on free ports like a throwaway server
        Settings freePorts = Settings.throwaway(dataDir);
        Settings settings = Settings.forRun(dataDir, freePorts.nativePort(), freePorts.storagePort()).withHeapMb(TEST_HEAP_MB);

        try (EmbeddedCassandra first = EmbeddedCassandra.start(settings)) {
            first.awaitReady(READY_TIMEOUT);
            try (CqlSession session = EmbeddedCassandra.openSession(EmbeddedCassandra.HOST, first.nativePort())) {
                // the server itself reports the mode: cassandra.yaml was read, not just written
                assertEquals(Map.of("commitlog_sync", "group", "commitlog_sync_group_window", DURABLE_WINDOW),
                        commitLogSettings(session), "the run's Cassandra must acknowledge writes only after their fsync");
                session.execute("CREATE KEYSPACE " + KEYSPACE
                        + " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
                session.execute("CREATE TABLE " + KEYSPACE + ".messages (id text PRIMARY KEY, body text)");
                session.execute("INSERT INTO " + KEYSPACE + ".messages (id, body) VALUES (?, ?)", MESSAGE_ID, MESSAGE_BODY);
            }
            first.stop(STOP_TIMEOUT);
            assertFalse(first.isAlive(), "the first server should have stopped");
        }

        try (EmbeddedCassandra second = EmbeddedCassandra.start(settings)) {
            second.awaitReady(READY_TIMEOUT);
            try (CqlSession session = EmbeddedCassandra.openSession(EmbeddedCassandra.HOST, second.nativePort())) {
                Row row = session.execute("SELECT body FROM " + KEYSPACE + ".messages WHERE id = ?", MESSAGE_ID).one();
                assertNotNull(row, "the row written before the restart is gone");
                assertEquals(MESSAGE_BODY, row.getString("body"));
            }
        }
    }

    @Test
    void theRunCommandsCassandraAcknowledgesAWriteOnlyAfterItsCommitLogSync() {
        Settings run = Settings.forRun(Path.of("target", "not-started"), 9042, 7000);
        assertEquals(CommitLogSync.Mode.GROUP, run.commitLogSync().mode());
        List<String> yaml = EmbeddedCassandra.cassandraYaml(run).lines().toList();
        assertTrue(yaml.contains("commitlog_sync: group"), String.join("\n", yaml));
        assertTrue(yaml.contains("commitlog_sync_group_window: " + DURABLE_WINDOW), String.join("\n", yaml));
        // Cassandra 5 refuses to start with a periodic key beside group sync
        assertTrue(yaml.stream().noneMatch(line -> line.startsWith("commitlog_sync_period")), String.join("\n", yaml));

        // tests keep Cassandra's periodic default: nobody reads their directories after a host crash
        assertFalse(Settings.throwaway(Path.of("target", "not-started")).commitLogSync().syncsBeforeAcknowledging());
    }

    @Test
    void eachCommitLogModeWritesOnlyItsOwnKeys() {
        Settings run = Settings.forRun(Path.of("target", "not-started"), 9042, 7000);
        assertEquals(List.of("commitlog_sync: periodic", "commitlog_sync_period: 10000ms"),
                commitLogLines(run.withCommitLogSync(CommitLogSync.periodic(Duration.ofSeconds(10)))));
        assertEquals(List.of("commitlog_sync: group", "commitlog_sync_group_window: 2ms"),
                commitLogLines(run.withCommitLogSync(CommitLogSync.of("GROUP", Duration.ofMillis(2), Duration.ofSeconds(10)))));
        assertEquals(List.of("commitlog_sync: batch"), commitLogLines(run.withCommitLogSync(CommitLogSync.of("batch", Duration.ofMillis(2), Duration.ofSeconds(10)))));

        assertThrows(IllegalArgumentException.class, () -> CommitLogSync.of("fsync", Duration.ofMillis(2), Duration.ofSeconds(10)));
        assertThrows(IllegalArgumentException.class, () -> CommitLogSync.group(Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> CommitLogSync.group(Duration.ofNanos(2_500_000)), "yaml takes whole ms");
        assertThrows(IllegalArgumentException.class, () -> new CommitLogSync(CommitLogSync.Mode.BATCH, Duration.ofMillis(2)));
    }

    @Test
    void childExitsWhenItsStdinClosesAsWhenTheParentDies() throws Exception {
        Path dataDir = newDirectoryUnderTarget("cassandra-watchdog-");
        try (EmbeddedCassandra cassandra = EmbeddedCassandra.start(Settings.throwaway(dataDir).withHeapMb(TEST_HEAP_MB))) {
            cassandra.awaitReady(READY_TIMEOUT);

            // what the kernel does to the pipe when the parent is killed with kill -9
            cassandra.process().getOutputStream().close();

            boolean exited = cassandra.process().waitFor(WATCHDOG_EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(exited, "Cassandra still runs " + WATCHDOG_EXIT_TIMEOUT + " after its stdin closed");
            assertFalse(cassandra.isAlive());
            assertEquals(0, cassandra.process().exitValue(), "the watchdog exits with 0 after a clean shutdown");
            String output = Files.readString(dataDir.resolve(EmbeddedCassandra.OUT_FILE), StandardCharsets.UTF_8);
            assertTrue(output.contains(ParentWatchdog.PARENT_GONE_MESSAGE),
                    "the exit should come from the watchdog, output was:\n" + output);
        }
    }

    @Test
    void awaitReadyFailsFastWithTheLogsWhenCassandraDiesAtStart() throws IOException {
        Path dataDir = newDirectoryUnderTarget("cassandra-broken-");
        // a regular file where the commit log directory must go: Cassandra gives up during start-up
        Files.writeString(dataDir.resolve("commitlog"), "not a directory");
        try (EmbeddedCassandra cassandra = EmbeddedCassandra.start(Settings.throwaway(dataDir).withHeapMb(TEST_HEAP_MB))) {
            IllegalStateException failure = assertThrows(IllegalStateException.class,
                    () -> cassandra.awaitReady(READY_TIMEOUT));
            assertTrue(failure.getMessage().contains("exited with code"), failure.getMessage());
            assertTrue(failure.getMessage().contains("last lines of"), failure.getMessage());
            assertFalse(cassandra.isAlive());
        }
    }

    @Test
    void sharedForTestsIsOneServerPerJvm() {
        CassandraEndpoint shared = EmbeddedCassandra.sharedForTests();
        assertSame(shared, EmbeddedCassandra.sharedForTests());
        // with ROUTER_CASSANDRA_CONTACT_POINTS or -Drouter.test.cassandra set this is that server
        String first = shared.contactPoints().get(0);
        int separator = first.lastIndexOf(':');
        try (CqlSession session = EmbeddedCassandra.openSession(
                first.substring(0, separator), Integer.parseInt(first.substring(separator + 1)))) {
            assertNotNull(session.execute("SELECT release_version FROM system.local").one());
        }
    }

    @Test
    void externalContactPointsAreSplitOnCommas() {
        CassandraEndpoint external = new ExternalCassandra(" 10.0.0.1:9042, 10.0.0.2:9042 ");
        assertEquals("10.0.0.1:9042, 10.0.0.2:9042", external.contactPoint());
        assertEquals(List.of("10.0.0.1:9042", "10.0.0.2:9042"), external.contactPoints());
    }

    /** What the running server reports for its commit-log sync (virtual table, Cassandra 4.0+). */
    private static Map<String, String> commitLogSettings(CqlSession session) {
        Map<String, String> settings = new TreeMap<>();
        for (Row row : session.execute("SELECT name, value FROM system_views.settings"
                + " WHERE name IN ('commitlog_sync', 'commitlog_sync_group_window')")) {
            settings.put(row.getString("name"), row.getString("value"));
        }
        return settings;
    }

    private static List<String> commitLogLines(Settings settings) {
        return EmbeddedCassandra.cassandraYaml(settings).lines().filter(line -> line.startsWith("commitlog_sync")).toList();
    }

    private static Path newDirectoryUnderTarget(String prefix) throws IOException {
        // surefire runs in the module directory: target/ is cleaned with the build
        Path target = Files.createDirectories(Path.of("target"));
        return Files.createTempDirectory(target, prefix);
    }
}
