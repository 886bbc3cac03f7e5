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

    private static final String KEYSPACE = "embedded_test";
    private static final String MESSAGE_ID = "m-1";
    private static final String MESSAGE_BODY = "still here after a restart";

    @Test
    void dataWrittenBeforeAStopIsReadAfterARestartOnTheSameDirectory() throws IOException {
        Path dataDir = newDirectoryUnderTarget("cassandra-restart-");
        // free ports like a throwaway server, but the durable settings of a reused directory:
        // the second start must find what the first one wrote
        Settings settings = Settings.throwaway(dataDir).withThrowaway(false).withHeapMb(TEST_HEAP_MB);

        try (EmbeddedCassandra first = EmbeddedCassandra.start(settings)) {
            first.awaitReady(READY_TIMEOUT);
            try (CqlSession session = EmbeddedCassandra.openSession(EmbeddedCassandra.HOST, first.nativePort())) {
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

    private static Path newDirectoryUnderTarget(String prefix) throws IOException {
        // surefire runs in the module directory: target/ is cleaned with the build
        Path target = Files.createDirectories(Path.of("target"));
        return Files.createTempDirectory(target, prefix);
    }
}
