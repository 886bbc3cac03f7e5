package org.imrouter.persistence.embedded;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one durable embedded Cassandra node in the foreground until SIGTERM, for scripts that
 * need a Cassandra without a router (ops/cluster: a 3-node Cassandra cluster on loopback).
 *
 * <p>Usage: {@code CassandraNodeMain DATA_DIR ADDRESS SEEDS [NATIVE_PORT STORAGE_PORT HEAP_MB]},
 * e.g. {@code .data/c2 127.0.0.2 127.0.0.1 9042 7000 512}.
 */
public final class CassandraNodeMain {
  private static final int DEFAULT_NATIVE_PORT = 9042;
  private static final int DEFAULT_STORAGE_PORT = 7000;
  /** Joining a ring takes a while: gossip settles and the node streams its token range. */
  private static final Duration START_TIMEOUT = Duration.ofMinutes(5);

  private CassandraNodeMain() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: CassandraNodeMain DATA_DIR ADDRESS SEEDS [NATIVE_PORT STORAGE_PORT HEAP_MB]");
      System.exit(2);
    }
    int nativePort = args.length > 3 ? Integer.parseInt(args[3]) : DEFAULT_NATIVE_PORT;
    int storagePort = args.length > 4 ? Integer.parseInt(args[4]) : DEFAULT_STORAGE_PORT;
    EmbeddedCassandra.Settings settings =
        EmbeddedCassandra.Settings.forRun(Path.of(args[0]), nativePort, storagePort).withAddress(args[1], args[2]);
    if (args.length > 5) {
      settings = settings.withHeapMb(Integer.parseInt(args[5]));
    }
    EmbeddedCassandra cassandra = EmbeddedCassandra.start(settings); // its shutdown hook stops it on SIGTERM
    cassandra.awaitReady(START_TIMEOUT);
    System.out.println("Cassandra ready at " + cassandra.contactPoint());
    new CountDownLatch(1).await(); // until the JVM is told to stop
  }
}
