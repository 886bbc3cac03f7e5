/**
 * A real Cassandra 5.0 server for the local run command and for tests, started as a child JVM.
 *
 * <p>Nothing here fakes Cassandra: {@link org.imrouter.persistence.embedded.EmbeddedCassandra}
 * launches {@code org.apache.cassandra.service.CassandraDaemon} from {@code cassandra-all}, so
 * the journal, snapshots and history queries run against the same storage engine, CQL dialect
 * and consistency behaviour as in production.
 *
 * <p>Why a separate JVM rather than the server inside our own process: Cassandra's runtime
 * classpath (99 jars: its own Netty, Guava, logging and JMX setup) clashes with Pekko's, it
 * needs Java 17 module flags of its own, it locks its heap and installs process-wide state
 * (shutdown hooks, security manager, static singletons) that cannot be restarted inside one
 * JVM. The persistence module therefore only carries the recorded classpath resource
 * {@code cassandra-server.classpath} (produced by the {@code cassandra-server} module), never
 * the server's jars.
 *
 * <p>Why {@link org.imrouter.persistence.embedded.ParentWatchdog}: a shutdown hook in the
 * parent stops the child on a normal exit, but a {@code kill -9} of the parent runs no hooks and
 * would leave an orphaned Cassandra holding the ports and the data directory. The watchdog is
 * the child's main class: it reads the child's stdin, which is a pipe from the parent, and
 * exits the child (letting Cassandra's own shutdown hooks flush) as soon as that pipe reaches
 * end-of-file, which the kernel guarantees when the parent dies for any reason.
 *
 * <p>{@link org.imrouter.persistence.embedded.CassandraEndpoint} is what callers that only need
 * an address (tests, configuration) depend on: either an embedded server or an externally
 * provided one ({@link org.imrouter.persistence.embedded.ExternalCassandra}).
 */
package org.imrouter.persistence.embedded;
