package org.imrouter.persistence.embedded;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.config.OptionsMap;
import com.datastax.oss.driver.api.core.config.TypedDriverOption;
import com.datastax.oss.driver.api.core.cql.Row;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A real Cassandra 5.0 server running in a child JVM, owned by this process.
 *
 * <p>{@link #start(Settings)} writes {@code cassandra.yaml} and a logback configuration into the
 * data directory and launches the child; {@link #awaitReady(Duration)} waits until CQL answers;
 * {@link #close()} stops it with SIGTERM so that Cassandra drains and flushes. The child also
 * stops when this JVM exits normally (shutdown hook) or is killed (see {@link ParentWatchdog}).
 *
 * <p>Files in the data directory: {@code cassandra.yaml}, {@code logback-cassandra.xml},
 * {@code cassandra.log} (Cassandra's log, INFO), {@code cassandra.out} (the child's stdout and
 * stderr: JVM warnings and crashes), and the {@code data}, {@code commitlog}, {@code hints},
 * {@code saved_caches} and {@code cdc_raw} directories.
 */
public final class EmbeddedCassandra implements CassandraEndpoint, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedCassandra.class);

    /** Cassandra binds, listens and gossips on loopback only: it is a private server. */
    public static final String HOST = "127.0.0.1";

    /** Cassandra 5.0 supports Java 11 and 17; this build (and the module flags below) is 17. */
    private static final int REQUIRED_JAVA_FEATURE = 17;

    /** Resource written by the cassandra-server module: the server's runtime classpath. */
    private static final String CLASSPATH_RESOURCE = "cassandra-server.classpath";

    static final String YAML_FILE = "cassandra.yaml";
    static final String LOGBACK_FILE = "logback-cassandra.xml";
    static final String LOG_FILE = "cassandra.log";
    static final String OUT_FILE = "cassandra.out";

    /** How often readiness is checked; short, since a ready server should be seen quickly. */
    private static final Duration POLL_INTERVAL = Duration.ofMillis(250);
    /** Bound for one TCP connect attempt to the native port (loopback: fails or succeeds fast). */
    private static final Duration PORT_PROBE_TIMEOUT = Duration.ofMillis(500);
    /** Bound for the driver's connection and the readiness query. */
    private static final Duration CQL_PROBE_TIMEOUT = Duration.ofSeconds(10);
    /** SIGTERM makes Cassandra drain and flush memtables: 8-15 s seen on a busy 2-core box. */
    public static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(60);
    /** After SIGKILL the kernel reaps the process promptly; this only bounds the wait. */
    private static final Duration FORCED_STOP_TIMEOUT = Duration.ofSeconds(10);
    /** Cold start of a fresh throwaway directory on a busy box, with margin. */
    private static final Duration SHARED_READY_TIMEOUT = Duration.ofSeconds(120);
    /** Lines of cassandra.log and cassandra.out quoted when the server fails. */
    private static final int FAILURE_LOG_LINES = 40;

    /** System property naming an existing Cassandra for tests, instead of starting one. */
    public static final String TEST_CONTACT_POINTS_PROPERTY = "router.test.cassandra";
    /** Environment variable naming an existing Cassandra, instead of starting one. */
    public static final String CONTACT_POINTS_ENV = "ROUTER_CASSANDRA_CONTACT_POINTS";

    /**
     * Cassandra's Java 17 module flags (its {@code conf/jvm17-server.options}); without them it
     * fails at start with {@code IllegalAccessException ... DirectBuffer.cleaner}.
     */
    private static final List<String> JAVA17_MODULE_FLAGS = List.of(
            "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
            "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
            "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
            "--add-exports=java.sql/java.sql=ALL-UNNAMED",
            "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
            "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
            "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
            "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED",
            "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "--add-opens=jdk.compiler/com.sun.tools.javac=ALL-UNNAMED");

    /** JVM options that hold for every run. */
    private static final List<String> JVM_FLAGS = List.of(
            "-Xss256k",
            "-XX:+UseG1GC",
            // a server that ran out of heap is in an unknown state: die and let the owner see it
            "-XX:+ExitOnOutOfMemoryError");

    /**
     * Start-up shortcuts for single-node test servers in directories nobody reuses. They skip
     * waits that only matter in a multi-node ring, and {@code unsafesystem} skips fsync of the
     * system tables: after a kill -9 the tables created at run time are lost and would be
     * re-created empty. That is silent data loss, hence never for a reused directory.
     */
    private static final List<String> THROWAWAY_FLAGS = List.of(
            "-XX:TieredStopAtLevel=1",
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
            "-Dcassandra.unsafesystem=true",
            // a fixed estimate instead of measuring row overhead at start-up
            "-Dcassandra.memtable.row_overhead_size=180");

    private static CassandraEndpoint sharedForTests;

    private final Settings settings;
    private final Process process;
    /**
     * Write end of the child's stdin. Held open (and referenced) for the child's whole life: its
     * end-of-file is the child's signal that this process is gone, see {@link ParentWatchdog}.
     */
    private final OutputStream childStdin;
    private final Thread shutdownHook;
    private final long startedAtNanos;
    private final boolean freshDirectory;

    private EmbeddedCassandra(Settings settings, Process process, boolean freshDirectory, long startedAtNanos) {
        this.settings = settings;
        this.process = process;
        this.childStdin = process.getOutputStream();
        this.freshDirectory = freshDirectory;
        this.startedAtNanos = startedAtNanos;
        this.shutdownHook = new Thread(() -> stop(DEFAULT_STOP_TIMEOUT), "embedded-cassandra-stop-" + settings.nativePort());
    }

    /**
     * Writes the configuration into {@code settings.dataDir()} and launches Cassandra. Returns as
     * soon as the child runs; call {@link #awaitReady(Duration)} before connecting.
     *
     * @throws IllegalStateException if this JVM is not Java 17, a port is taken, or the recorded
     *                               Cassandra classpath is missing
     */
    public static EmbeddedCassandra start(Settings settings) throws IOException {
        Objects.requireNonNull(settings, "settings");
        requireJava17();
        // a server still shutting down on the same port would pass the readiness probe in our place
        requirePortFree(settings.host(), settings.nativePort(), "native transport");
        requirePortFree(settings.host(), settings.storagePort(), "storage");

        Path dataDir = settings.dataDir();
        boolean freshDirectory = !Files.isDirectory(dataDir.resolve("data"));
        Files.createDirectories(dataDir);
        Path yaml = dataDir.resolve(YAML_FILE);
        Files.writeString(yaml, cassandraYaml(settings), StandardCharsets.UTF_8);
        Path logback = dataDir.resolve(LOGBACK_FILE);
        Files.writeString(logback, logbackXml(dataDir.resolve(LOG_FILE)), StandardCharsets.UTF_8);

        List<String> command = command(settings, yaml, logback);
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(dataDir.toFile())
                .redirectErrorStream(true)
                // appended, so the output of earlier runs in this directory stays readable
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve(OUT_FILE).toFile()));
        // stdin stays a pipe (the default): ParentWatchdog watches it for the parent's death

        long startedAtNanos = System.nanoTime();
        Process process = builder.start();
        EmbeddedCassandra cassandra = new EmbeddedCassandra(settings, process, freshDirectory, startedAtNanos);
        Runtime.getRuntime().addShutdownHook(cassandra.shutdownHook);
        log.info("Started Cassandra (pid {}) in {} on native port {}, storage port {}, commit-log sync {}{}",
                process.pid(), dataDir, settings.nativePort(), settings.storagePort(), settings.commitLogSync(),
                settings.throwaway() ? " (throwaway)" : "");
        return cassandra;
    }

    /**
     * The Cassandra for this JVM's tests, started once on first use and stopped when the JVM
     * exits. If {@value #TEST_CONTACT_POINTS_PROPERTY} (system property) or
     * {@value #CONTACT_POINTS_ENV} (environment) names a Cassandra, nothing is started and that
     * address is returned instead.
     */
    public static synchronized CassandraEndpoint sharedForTests() {
        if (sharedForTests == null) {
            sharedForTests = createSharedForTests();
        }
        return sharedForTests;
    }

    private static CassandraEndpoint createSharedForTests() {
        String external = firstNonBlank(System.getProperty(TEST_CONTACT_POINTS_PROPERTY), System.getenv(CONTACT_POINTS_ENV));
        if (external != null) {
            log.info("Using the Cassandra at {} instead of starting one", external);
            return new ExternalCassandra(external);
        }
        // surefire runs tests in the module directory, so this lands in the module's target/
        Path dataDir = Path.of("target", "test-cassandra-" + ProcessHandle.current().pid());
        EmbeddedCassandra cassandra;
        try {
            cassandra = start(Settings.throwaway(dataDir));
        } catch (IOException e) {
            throw new UncheckedIOException("could not start the test Cassandra in " + dataDir, e);
        }
        try {
            cassandra.awaitReady(SHARED_READY_TIMEOUT);
        } catch (RuntimeException e) {
            cassandra.close();
            throw e;
        }
        return cassandra;
    }

    /**
     * Waits until the native port accepts connections and a CQL query succeeds.
     *
     * @throws IllegalStateException if the child exits first or the timeout passes; the message
     *                               carries the end of cassandra.log and cassandra.out
     */
    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException lastCqlFailure = null;
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Cassandra exited with code " + process.exitValue()
                        + " before it was ready" + logTails());
            }
            if (nativePortAccepts()) {
                try {
                    String version = queryReleaseVersion();
                    log.info("Cassandra {} ready on {} after {} ms ({})", version, contactPoint(),
                            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedAtNanos),
                            freshDirectory ? "fresh directory" : "existing data");
                    return;
                } catch (RuntimeException e) {
                    // the port can open a moment before CQL answers; keep polling
                    lastCqlFailure = e;
                }
            }
            if (System.nanoTime() - deadline >= 0) {
                IllegalStateException timedOut = new IllegalStateException(
                        "Cassandra not ready on " + contactPoint() + " within " + timeout + logTails());
                if (lastCqlFailure != null) {
                    timedOut.addSuppressed(lastCqlFailure);
                }
                throw timedOut;
            }
            waitForExit(POLL_INTERVAL); // returns early if the child dies, so a crash is seen at once
        }
    }

    /** {@code 127.0.0.1:<nativePort>}, the driver's contact point. */
    @Override
    public String contactPoint() {
        return settings.host() + ":" + settings.nativePort();
    }

    public int nativePort() {
        return settings.nativePort();
    }

    public Path dataDir() {
        return settings.dataDir();
    }

    public Settings settings() {
        return settings;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The Cassandra process id, for fault tests that pause it (SIGSTOP) like a stalled server. */
    public long pid() {
        return process.pid();
    }

    /** The child process; package-private so tests can close its stdin like a dying parent would. */
    Process process() {
        return process;
    }

    /** Stops Cassandra with SIGTERM and waits up to {@link #DEFAULT_STOP_TIMEOUT}. */
    @Override
    public void close() {
        stop(DEFAULT_STOP_TIMEOUT);
    }

    /**
     * Sends SIGTERM (Cassandra drains and flushes), waits up to {@code timeout}, then kills the
     * child if it is still there. Safe to call more than once.
     */
    public synchronized void stop(Duration timeout) {
        if (process.isAlive()) {
            long stopStartedNanos = System.nanoTime();
            // destroy() sends SIGTERM and also closes our end of the child's stdin, so the watchdog
            // calls System.exit at the same moment: both start the same single JVM shutdown (the
            // exit code is then 0 or 143, whichever came first), in which Cassandra drains
            process.destroy();
            if (!waitForExit(timeout)) {
                log.warn("Cassandra (pid {}) did not stop within {} after SIGTERM; killing it", process.pid(), timeout);
                process.destroyForcibly();
                waitForExit(FORCED_STOP_TIMEOUT);
            }
            log.info("Cassandra (pid {}) stopped after {} ms with exit code {}", process.pid(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopStartedNanos),
                    process.isAlive() ? "(still running)" : process.exitValue());
        }
        closeQuietly(childStdin);
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down (possibly this very hook is running): nothing to remove
        }
    }

    // --- configuration files ---------------------------------------------------------------

    /** Memtables may use 1/this of the heap (Cassandra's own default). */
    private static final int MEMTABLE_HEAP_SHARE = 4;

    static String cassandraYaml(Settings settings) {
        Path dir = settings.dataDir();
        List<String> lines = new ArrayList<>(List.of(
                "# Written by EmbeddedCassandra at every start; edits are overwritten.",
                "cluster_name: " + yamlString(settings.clusterName()),
                "num_tokens: 1",
                "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
                "listen_address: " + settings.host(),
                "rpc_address: " + settings.host(),
                "storage_port: " + settings.storagePort(),
                "start_native_transport: true",
                "native_transport_port: " + settings.nativePort(),
                "seed_provider:",
                "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
                "    parameters:",
                // no port here: a seed port different from storage_port means 'Unable to gossip with any peers'
                "      - seeds: \"" + settings.seeds() + "\"",
                "endpoint_snitch: SimpleSnitch",
                // Memtables get Cassandra's default share, a quarter of the heap: at 64 MiB they
                // were flushed every few MiB of journal writes under load, and the small sstables
                // kept the one compactor busy (BENCHMARKS.md). One compactor: a development server
                // that shares the machine.
                "memtable_heap_space: " + settings.heapMb() / MEMTABLE_HEAP_SHARE + "MiB",
                "memtable_offheap_space: 64MiB",
                "concurrent_compactors: 1",
                "data_file_directories:",
                "  - " + yamlString(dir.resolve("data").toString()),
                "commitlog_directory: " + yamlString(dir.resolve("commitlog").toString()),
                "hints_directory: " + yamlString(dir.resolve("hints").toString()),
                "saved_caches_directory: " + yamlString(dir.resolve("saved_caches").toString()),
                "cdc_raw_directory: " + yamlString(dir.resolve("cdc_raw").toString())));
        // Every write is appended to the commit log before Cassandra answers; this decides whether
        // the answer also waits for the fsync. The router answers 'accepted' after Cassandra's
        // answer, so with periodic sync a power loss or host crash can take back the last period
        // of accepted messages; the run's default waits (group, see CommitLogSync.DURABLE_DEFAULT).
        lines.addAll(settings.commitLogSync().yamlLines());
        lines.add("");
        return String.join("\n", lines);
    }

    static String logbackXml(Path logFile) {
        return String.join("\n",
                "<!-- Written by EmbeddedCassandra at every start; edits are overwritten. -->",
                "<configuration>",
                "  <appender name=\"FILE\" class=\"ch.qos.logback.core.FileAppender\">",
                "    <file>" + xmlText(logFile.toString()) + "</file>",
                "    <append>true</append>",
                "    <encoder>",
                "      <pattern>%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger{36} - %msg%n</pattern>",
                "    </encoder>",
                "  </appender>",
                "  <root level=\"INFO\">",
                "    <appender-ref ref=\"FILE\"/>",
                "  </root>",
                "</configuration>",
                "");
    }

    private static List<String> command(Settings settings, Path yaml, Path logback) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xms" + settings.heapMb() + "m");
        command.add("-Xmx" + settings.heapMb() + "m");
        command.addAll(JVM_FLAGS);
        command.addAll(JAVA17_MODULE_FLAGS);
        command.add("-Dcassandra.config=" + yaml.toUri());
        command.add("-Dcassandra.storagedir=" + settings.dataDir());
        command.add("-Dcassandra-foreground=yes");
        command.add("-Dcassandra.native_transport_port=" + settings.nativePort());
        command.add("-Dcassandra.storage_port=" + settings.storagePort());
        command.add("-Dlogback.configurationFile=" + logback);
        command.add("-Djava.net.preferIPv4Stack=true");
        command.add("-Djdk.attach.allowAttachSelf=true");
        command.add("-Dio.netty.tryReflectionSetAccessible=true");
        if (settings.throwaway()) {
            command.addAll(THROWAWAY_FLAGS);
        }
        command.add("-cp");
        command.add(childClasspath());
        command.add(ParentWatchdog.class.getName());
        return command;
    }

    /** Our own classes first (for ParentWatchdog), then the recorded Cassandra classpath. */
    private static String childClasspath() {
        Path ownClasses;
        try {
            ownClasses = Path.of(EmbeddedCassandra.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot locate the classes of " + EmbeddedCassandra.class.getName(), e);
        }
        return ownClasses + java.io.File.pathSeparator + cassandraClasspath();
    }

    private static String cassandraClasspath() {
        String recorded;
        try (InputStream in = EmbeddedCassandra.class.getResourceAsStream(CLASSPATH_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("resource " + CLASSPATH_RESOURCE + " is missing: is the"
                        + " im-router-cassandra-server module on the classpath?");
            }
            recorded = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + CLASSPATH_RESOURCE, e);
        }
        // the paths point into a local Maven repository: say which jars are gone, not 'class not found'
        List<String> missing = Arrays.stream(recorded.split(java.io.File.pathSeparator))
                .filter(entry -> !Files.exists(Path.of(entry)))
                .toList();
        if (!missing.isEmpty()) {
            throw new IllegalStateException(missing.size() + " jar(s) of the recorded Cassandra classpath are"
                    + " missing (rebuild im-router-cassandra-server), first: " + missing.get(0));
        }
        return recorded;
    }

    // --- readiness -----------------------------------------------------------------------------

    private boolean nativePortAccepts() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(settings.host(), settings.nativePort()), (int) PORT_PROBE_TIMEOUT.toMillis());
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String queryReleaseVersion() {
        try (CqlSession session = openSession(settings.host(), settings.nativePort())) {
            Row row = session.execute("SELECT release_version FROM system.local").one();
            if (row == null) {
                throw new IllegalStateException("system.local returned no row");
            }
            return row.getString("release_version");
        }
    }

    /**
     * A driver session configured from the driver's defaults only: an application.conf on the
     * classpath (with its own contact points) must not redirect the probe elsewhere.
     */
    static CqlSession openSession(String host, int port) {
        OptionsMap options = OptionsMap.driverDefaults();
        options.put(TypedDriverOption.CONTACT_POINTS, List.of(host + ":" + port));
        options.put(TypedDriverOption.LOAD_BALANCING_LOCAL_DATACENTER, LOCAL_DATACENTER);
        options.put(TypedDriverOption.CONNECTION_CONNECT_TIMEOUT, CQL_PROBE_TIMEOUT);
        options.put(TypedDriverOption.CONNECTION_INIT_QUERY_TIMEOUT, CQL_PROBE_TIMEOUT);
        options.put(TypedDriverOption.CONTROL_CONNECTION_TIMEOUT, CQL_PROBE_TIMEOUT);
        options.put(TypedDriverOption.REQUEST_TIMEOUT, CQL_PROBE_TIMEOUT);
        return CqlSession.builder().withConfigLoader(DriverConfigLoader.fromMap(options)).build();
    }

    // --- helpers -------------------------------------------------------------------------------

    /** Waits for the child to exit, at most {@code timeout}; true if it has exited. */
    private boolean waitForExit(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for Cassandra (pid " + process.pid() + ")", e);
        }
    }

    private String logTails() {
        return "\n--- last lines of " + dataDir().resolve(LOG_FILE) + " ---\n" + tail(dataDir().resolve(LOG_FILE))
                + "\n--- last lines of " + dataDir().resolve(OUT_FILE) + " ---\n" + tail(dataDir().resolve(OUT_FILE));
    }

    static String tail(Path file) {
        if (!Files.isRegularFile(file)) {
            return "(no such file)";
        }
        try {
            List<String> lines = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
            return String.join("\n", lines.subList(Math.max(0, lines.size() - FAILURE_LOG_LINES), lines.size()));
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    private static void requireJava17() {
        // the child runs on this JVM's java.home; the module flags above are Java 17's
        int feature = Runtime.version().feature();
        if (feature != REQUIRED_JAVA_FEATURE) {
            throw new IllegalStateException("Embedded Cassandra 5.0 needs Java " + REQUIRED_JAVA_FEATURE
                    + ", but java.home " + System.getProperty("java.home") + " is Java " + feature);
        }
    }

    private static void requirePortFree(String host, int port, String purpose) {
        try (ServerSocket probe = new ServerSocket()) {
            // like Cassandra's own listener: TIME_WAIT connections of an earlier run do not block the port
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(host, port), 1);
        } catch (IOException e) {
            throw new IllegalStateException("Cassandra's " + purpose + " port " + host + ":" + port
                    + " is in use (another Cassandra still running or stopping?)", e);
        }
    }

    private static void closeQuietly(OutputStream stream) {
        try {
            stream.close();
        } catch (IOException e) {
            // the child is gone; a failing close of its pipe changes nothing
        }
    }

    private static String firstNonBlank(String first, String second) {
        if (first != null && !first.isBlank()) {
            return first.trim();
        }
        if (second != null && !second.isBlank()) {
            return second.trim();
        }
        return null;
    }

    /** Single-quoted YAML scalar: no escapes except a doubled quote. */
    private static String yamlString(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static String xmlText(String value) {
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /**
     * How to run one Cassandra.
     *
     * @param dataDir     everything of this server lives here; created if missing
     * @param clusterName stored in the data on first start; a restart must use the same name
     * @param nativePort  CQL port
     * @param storagePort internode (gossip) port; nothing connects to it, but it is bound
     * @param heapMb      -Xms and -Xmx; resident memory is about heap + 350 MB
     * @param throwaway   true only for directories nobody reuses: enables start-up shortcuts,
     *                    including {@code cassandra.unsafesystem}, that may lose data on a crash
     * @param commitLogSync when an acknowledged write is on disk, see {@link CommitLogSync}
     */
    public record Settings(Path dataDir, String clusterName, int nativePort, int storagePort, int heapMb,
                           boolean throwaway, String host, String seeds, CommitLogSync commitLogSync) {

        public static final String DEFAULT_CLUSTER_NAME = "im-router";
        public static final int DEFAULT_HEAP_MB = 512;
        /** Below this Cassandra does not fit its caches and memtables. */
        private static final int MIN_HEAP_MB = 128;
        private static final int MAX_PORT = 65_535;

        public Settings {
            Objects.requireNonNull(dataDir, "dataDir");
            Objects.requireNonNull(clusterName, "clusterName");
            // absolute: the paths go into cassandra.yaml and the child runs in another directory
            dataDir = dataDir.toAbsolutePath().normalize();
            requirePort(nativePort, "nativePort");
            requirePort(storagePort, "storagePort");
            if (nativePort == storagePort) {
                throw new IllegalArgumentException("nativePort and storagePort must differ: " + nativePort);
            }
            if (heapMb < MIN_HEAP_MB) {
                throw new IllegalArgumentException("heapMb must be at least " + MIN_HEAP_MB + ": " + heapMb);
            }
            if (clusterName.isBlank()) {
                throw new IllegalArgumentException("clusterName must not be blank");
            }
            Objects.requireNonNull(host, "host");
            Objects.requireNonNull(seeds, "seeds");
            Objects.requireNonNull(commitLogSync, "commitLogSync");
        }

        /**
         * A durable server, e.g. for the run command: fixed ports, no start-up shortcuts, and a
         * write acknowledged only after its commit-log fsync ({@link CommitLogSync#DURABLE_DEFAULT}).
         */
        public static Settings forRun(Path dataDir, int nativePort, int storagePort) {
            return new Settings(dataDir, DEFAULT_CLUSTER_NAME, nativePort, storagePort, DEFAULT_HEAP_MB, false, HOST, HOST,
                    CommitLogSync.DURABLE_DEFAULT);
        }

        /**
         * A test server on two free ports with the fast-start shortcuts; never reuse its directory.
         * Its commit log is synced periodically: nobody reads the directory after a host crash, so
         * waiting for fsyncs would only slow the tests down.
         */
        public static Settings throwaway(Path dataDir) {
            int[] ports = freeLoopbackPorts(2);
            return new Settings(dataDir, DEFAULT_CLUSTER_NAME, ports[0], ports[1], DEFAULT_HEAP_MB, true, HOST, HOST,
                    CommitLogSync.PERIODIC_DEFAULT);
        }

        public Settings withHeapMb(int newHeapMb) {
            return new Settings(dataDir, clusterName, nativePort, storagePort, newHeapMb, throwaway, host, seeds, commitLogSync);
        }

        public Settings withClusterName(String newClusterName) {
            return new Settings(dataDir, newClusterName, nativePort, storagePort, heapMb, throwaway, host, seeds, commitLogSync);
        }

        /** Only the start-up shortcuts; the commit-log sync stays as it is ({@link #withCommitLogSync}). */
        public Settings withThrowaway(boolean newThrowaway) {
            return new Settings(dataDir, clusterName, nativePort, storagePort, heapMb, newThrowaway, host, seeds, commitLogSync);
        }

        public Settings withCommitLogSync(CommitLogSync newCommitLogSync) {
            return new Settings(dataDir, clusterName, nativePort, storagePort, heapMb, throwaway, host, seeds, newCommitLogSync);
        }

        /**
         * One node of a multi-node cluster on loopback: its own address (127.0.0.2, …; Linux
         * routes all of 127.0.0.0/8 to the loopback interface) and the seeds' addresses, comma
         * separated. Every node then uses the same ports on its own address.
         */
        public Settings withAddress(String newHost, String newSeeds) {
            return new Settings(dataDir, clusterName, nativePort, storagePort, heapMb, throwaway, newHost, newSeeds, commitLogSync);
        }

        /**
         * Ports the kernel handed out just now. All sockets are held until every port is known,
         * so the ports differ from each other; another process may still take one before
         * Cassandra binds it, which start() then reports.
         */
        private static int[] freeLoopbackPorts(int count) {
            List<ServerSocket> sockets = new ArrayList<>();
            try {
                InetAddress loopback = InetAddress.getByName(HOST);
                int[] ports = new int[count];
                for (int i = 0; i < count; i++) {
                    ServerSocket socket = new ServerSocket(0, 1, loopback);
                    sockets.add(socket);
                    ports[i] = socket.getLocalPort();
                }
                return ports;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot find free ports on " + HOST, e);
            } finally {
                for (ServerSocket socket : sockets) {
                    try {
                        socket.close();
                    } catch (IOException e) {
                        // closing a listening socket that never accepted cannot leave anything behind
                    }
                }
            }
        }

        private static void requirePort(int port, String name) {
            if (port < 1 || port > MAX_PORT) {
                throw new IllegalArgumentException(name + " out of range: " + port);
            }
        }
    }
}
