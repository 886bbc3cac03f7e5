package org.imrouter.persistence.embedded;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

/**
 * Main class of the Cassandra child JVM: ties the child's life to its parent's, then hands
 * over to Cassandra's own main class.
 *
 * <p>The parent keeps the write end of the child's stdin pipe open and never writes to it.
 * When the parent dies, however it dies (including {@code kill -9}, which runs no shutdown
 * hooks), the kernel closes that end and the read here returns end-of-file; the child then
 * exits. {@link System#exit} runs Cassandra's shutdown hooks, so it drains and flushes exactly
 * as on SIGTERM.
 *
 * <p>Runs on Cassandra's classpath, not ours: it must use nothing but the JDK, and reaches
 * Cassandra only through reflection (the server's jars are not on the persistence module's
 * compile classpath).
 */
public final class ParentWatchdog {

    static final String CASSANDRA_MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon";

    /** Message written to the child's output when the parent is gone; tests look for it. */
    static final String PARENT_GONE_MESSAGE =
            "ParentWatchdog: stdin reached end-of-file, the parent is gone; stopping Cassandra";

    /** Same code Cassandra uses when its own start-up fails. */
    private static final int EXIT_START_FAILED = 3;

    private static final int READ_BUFFER_BYTES = 64;

    private ParentWatchdog() {
    }

    public static void main(String[] args) {
        Thread watcher = new Thread(ParentWatchdog::exitWhenStdinCloses, "parent-watchdog");
        // a daemon thread, so it never keeps the JVM alive after Cassandra has stopped by itself
        watcher.setDaemon(true);
        watcher.start();
        try {
            Method cassandraMain = Class.forName(CASSANDRA_MAIN_CLASS).getMethod("main", String[].class);
            cassandraMain.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            failStart(e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            failStart(e);
        }
        // CassandraDaemon.main returns once the server runs; its non-daemon threads keep the JVM up
    }

    private static void exitWhenStdinCloses() {
        InputStream stdin = System.in;
        byte[] buffer = new byte[READ_BUFFER_BYTES];
        try {
            while (stdin.read(buffer) != -1) {
                // the parent never writes; anything that arrives is ignored
            }
        } catch (IOException e) {
            // a broken pipe means the same as end-of-file: nobody is on the other side any more
        }
        System.err.println(PARENT_GONE_MESSAGE);
        System.exit(0);
    }

    private static void failStart(Throwable cause) {
        // Cassandra may already run non-daemon threads: leave explicitly rather than hang half-started
        System.err.println("ParentWatchdog: Cassandra failed to start");
        cause.printStackTrace();
        System.exit(EXIT_START_FAILED);
    }
}
