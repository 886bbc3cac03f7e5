package org.imrouter.node.cluster;

import com.datastax.oss.driver.api.core.ConsistencyLevel;
import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.config.DriverConfigLoader;
import com.datastax.oss.driver.api.core.config.OptionsMap;
import com.datastax.oss.driver.api.core.config.TypedDriverOption;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.imrouter.node.testkit.Await;
import org.imrouter.persistence.embedded.CommitLogSync;
import org.imrouter.persistence.embedded.EmbeddedCassandra;

/**
 * A ring of real Cassandra nodes for process-level tests: node N runs in its own child JVM on
 * 127.0.0.N (Linux routes all of 127/8 to lo), every node on the same two ports and a seed.
 *
 * <p>The nodes use the fast-start shortcuts of {@link EmbeddedCassandra.Settings#throwaway}
 * (no ring delay, {@code cassandra.unsafesystem}): the shortcuts only risk the system tables of a
 * node that is restarted after a crash, and a node of this ring is never restarted: a killed node
 * stays down, its directory is fresh for every run. For the same reason its commit log is synced
 * periodically, like a throwaway server's: what a killed node had not synced is never read.
 */
final class CassandraRing implements AutoCloseable {
  /** A fresh node on a busy two-core machine, joining a ring, with margin. */
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(150);
  /** Nothing of a throwaway ring is worth a drain at the end of a run. */
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(2);
  /** One DDL statement and the schema agreement after it, on a busy machine. */
  private static final Duration SCHEMA_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration KILL_TIMEOUT = Duration.ofSeconds(20);

  private final List<EmbeddedCassandra> nodes = new ArrayList<>();
  /** nodes stopped with SIGSTOP and not resumed yet, 1-based */
  private final Set<Integer> frozen = new TreeSet<>();
  private CassandraRing() {}

  /** Starts {@code size} nodes one after the other; each joins the ring before the next starts. */
  static CassandraRing start(Path dir, int size, int heapMb) throws IOException {
    int[] ports = portsFreeOnAll(size);
    // every node a seed: a seed does not bootstrap, so it neither waits for the ring delay nor
    // fails without it (the fast-start shortcuts set it to 0); an empty ring needs no streaming
    String seeds = java.util.stream.IntStream.rangeClosed(1, size).mapToObj(CassandraRing::address).collect(Collectors.joining(","));
    CassandraRing ring = new CassandraRing();
    try {
      for (int n = 1; n <= size; n++) {
        // throwaway = true: the fast-start shortcuts (see the class comment)
        EmbeddedCassandra.Settings settings =
            new EmbeddedCassandra.Settings(
                dir.resolve("cassandra-" + n),
                EmbeddedCassandra.Settings.DEFAULT_CLUSTER_NAME,
                ports[0],
                ports[1],
                heapMb,
                true,
                address(n),
                seeds,
                CommitLogSync.PERIODIC_DEFAULT);
        EmbeddedCassandra node = EmbeddedCassandra.start(settings);
        ring.nodes.add(node);
        node.awaitReady(READY_TIMEOUT);
      }
      ring.awaitRing(READY_TIMEOUT);
    } catch (RuntimeException | IOException e) {
      ring.close();
      throw e;
    }
    return ring;
  }

  /** Waits until every node sees every other one as a peer (the ring has formed). */
  private void awaitRing(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (EmbeddedCassandra node : nodes) {
      while (true) {
        int peers = -1;
        try (CqlSession session = session(node.contactPoint())) {
          peers = session.execute("SELECT peer FROM system.peers_v2").all().size();
        } catch (RuntimeException notYet) {
          // keep polling
        }
        if (peers == nodes.size() - 1) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(node.contactPoint() + " sees " + peers + " peers, not " + (nodes.size() - 1));
        }
        Await.step(Duration.ofMillis(500));
      }
    }
  }

  /**
   * Runs a schema script (statements separated by ';', '--' comments) through node 1, waiting
   * for every node to agree on the schema after each statement: what production does with
   * ops/cassandra/schema.cql instead of letting several router nodes race to autocreate it.
   */
  void createSchema(String script) {
    try (CqlSession session = session(nodes.get(0).contactPoint())) {
      String withoutComments = script.lines().filter(l -> !l.trim().startsWith("--")).collect(Collectors.joining("\n"));
      for (String statement : withoutComments.split(";")) {
        if (statement.isBlank()) {
          continue;
        }
        session.execute(SimpleStatement.newInstance(statement.trim()).setTimeout(SCHEMA_TIMEOUT));
        long deadline = System.nanoTime() + SCHEMA_TIMEOUT.toNanos();
        while (!session.checkSchemaAgreement()) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("no schema agreement within " + SCHEMA_TIMEOUT + " after: " + statement.trim());
          }
          Await.step(Duration.ofMillis(200));
        }
      }
    }
  }

  /** One journal row: its position, when it was written (microseconds) and its serialized event. */
  record JournalRow(long seq, long writtenMicros, ByteBuffer event) {}

  /**
   * Every journal row of {@code persistenceId} in the first partitions, read at quorum, with
   * each row's write time: what tells a write that never happened from one that a later write of
   * the same position replaced (docs/decisions/0014), when a check finds a message missing.
   */
  List<JournalRow> journal(String keyspace, String persistenceId) {
    return readAtQuorum(
        "SELECT sequence_nr, writetime(event) AS written, event FROM " + keyspace
            + ".messages WHERE persistence_id = ? AND partition_nr IN (0, 1)",
        persistenceId,
        r -> new JournalRow(r.getLong("sequence_nr"), r.getLong("written"), r.getByteBuffer("event")));
  }

  /** The sequence numbers and write times (microseconds) of {@code persistenceId}'s snapshots. */
  List<long[]> snapshots(String snapshotKeyspace, String persistenceId) {
    return readAtQuorum(
        "SELECT sequence_nr, writetime(snapshot) AS written FROM " + snapshotKeyspace + ".snapshots WHERE persistence_id = ?",
        persistenceId,
        r -> new long[] {r.getLong("sequence_nr"), r.getLong("written")});
  }

  private <T> List<T> readAtQuorum(String cql, String persistenceId, Function<Row, T> row) {
    try (CqlSession session = session(nodes.get(0).contactPoint())) {
      SimpleStatement select = SimpleStatement.newInstance(cql, persistenceId).setConsistencyLevel(ConsistencyLevel.QUORUM);
      return session.execute(select).all().stream().map(row).toList();
    }
  }

  /** A driver session to one node only, configured from the driver's defaults alone. */
  private static CqlSession session(String contactPoint) {
    String[] hostPort = contactPoint.split(":");
    OptionsMap options = OptionsMap.driverDefaults();
    options.put(TypedDriverOption.LOAD_BALANCING_LOCAL_DATACENTER, "datacenter1");
    options.put(TypedDriverOption.REQUEST_TIMEOUT, Duration.ofSeconds(10));
    return CqlSession.builder()
        .addContactPoint(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])))
        .withConfigLoader(DriverConfigLoader.fromMap(options))
        .build();
  }

  static String address(int n) {
    return "127.0.0." + n;
  }

  /** The driver's contact points: every node, "h:p,h:p,…". */
  String contactPoints() {
    return nodes.stream().map(EmbeddedCassandra::contactPoint).collect(Collectors.joining(","));
  }

  int size() {
    return nodes.size();
  }

  boolean isAlive(int n) {
    return nodes.get(n - 1).isAlive();
  }

  /** SIGKILL to node {@code n} (1-based): no drain, no flush, like a machine that lost power. */
  void kill(int n) {
    EmbeddedCassandra node = nodes.get(n - 1);
    ProcessHandle handle =
        serverProcess(node).orElseThrow(() -> new IllegalStateException("no Cassandra process for " + node.dataDir()));
    handle.destroyForcibly();
    handle.onExit().orTimeout(KILL_TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join();
  }

  /**
   * SIGSTOP to node {@code n} (1-based): it stands still with its sockets open, like a server in
   * a long GC pause or a host that stopped answering; {@link #resume} (and {@link #close}) lets it
   * run again.
   */
  void freeze(int n) {
    signal(n, "STOP");
    frozen.add(n);
  }

  /** SIGCONT to a node stopped by {@link #freeze}. */
  void resume(int n) {
    signal(n, "CONT");
    frozen.remove(n);
  }

  /** Resumes every node still frozen; harmless when none is. */
  void resumeAll() {
    for (int n : List.copyOf(frozen)) {
      resume(n);
    }
  }

  private void signal(int n, String signal) {
    EmbeddedCassandra node = nodes.get(n - 1);
    long pid = serverProcess(node).orElseThrow(() -> new IllegalStateException("no Cassandra process for " + node.dataDir())).pid();
    try {
      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
      if (kill.waitFor() != 0) {
        throw new IllegalStateException("kill -" + signal + " " + pid + " (Cassandra node " + n + ") failed");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /**
   * The child JVM of a node, found by its data directory on its command line. Read from /proc:
   * ProcessHandle.Info leaves out the arguments of a command line as long as Cassandra's.
   */
  private static Optional<ProcessHandle> serverProcess(EmbeddedCassandra node) {
    String marker = "-Dcassandra.storagedir=" + node.dataDir();
    return ProcessHandle.current().children().filter(p -> commandLine(p.pid()).contains(marker)).findFirst();
  }

  private static List<String> commandLine(long pid) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
      return List.of(new String(raw, StandardCharsets.UTF_8).split("\0"));
    } catch (IOException | UncheckedIOException e) {
      return List.of(); // the process is gone
    }
  }

  @Override
  public void close() {
    try {
      // a stopped JVM would not take part in its own stop; never leave one behind stopped
      resumeAll();
    } finally {
      for (EmbeddedCassandra node : nodes) {
        serverProcess(node).ifPresent(ProcessHandle::destroyForcibly);
        node.stop(STOP_TIMEOUT);
      }
    }
  }

  /** A native and a storage port, free on every node's address at once. */
  private static int[] portsFreeOnAll(int size) {
    for (int attempt = 0; attempt < 50; attempt++) {
      int[] ports = {freePort(), freePort()};
      if (ports[0] != ports[1] && freeOnAll(ports[0], size) && freeOnAll(ports[1], size)) {
        return ports;
      }
    }
    throw new IllegalStateException("no port pair free on all ring addresses");
  }

  private static boolean freeOnAll(int port, int size) {
    for (int n = 1; n <= size; n++) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getByName(address(n)), port), 1);
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
