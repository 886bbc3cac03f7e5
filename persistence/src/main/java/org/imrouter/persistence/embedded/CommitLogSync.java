package org.imrouter.persistence.embedded;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * When the embedded Cassandra forces its commit log to disk (fsync), and so what a write it has
 * acknowledged survives. Cassandra appends every write to the commit log before it answers; the
 * mode decides whether it also waits for the fsync:
 *
 * <ul>
 *   <li>{@link Mode#PERIODIC}: answers at once and fsyncs every {@code window} (Cassandra's default,
 *       10 s). An acknowledged write survives a crash of the Cassandra process (the segment is a
 *       memory-mapped file: the kernel still writes it out), but not a crash of the host or a power
 *       loss within the last {@code window}.
 *   <li>{@link Mode#GROUP}: a sync thread fsyncs every {@code window}, and each write is answered
 *       after the fsync that covers it, so a write waits at most {@code window} plus one fsync.
 *       Survives a host crash and power loss, as far as the disk keeps what it acknowledged.
 *   <li>{@link Mode#BATCH}: each write asks for an fsync at once and is answered after it; writes
 *       that arrive during an fsync share the next one. Same guarantee as group, with more fsyncs.
 * </ul>
 *
 * @param mode   the commit log's {@code commitlog_sync}
 * @param window {@code commitlog_sync_period} (periodic) or {@code commitlog_sync_group_window}
 *               (group), whole milliseconds; {@link Duration#ZERO} for batch, which has none
 */
public record CommitLogSync(Mode mode, Duration window) {

    /** Cassandra's {@code commitlog_sync} values. */
    public enum Mode {
        PERIODIC,
        GROUP,
        BATCH;

        /** {@code periodic}, {@code group} or {@code batch}, as in cassandra.yaml and the config. */
        public String yamlName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * The run command's default: a write is answered only once it is on disk, and the fsyncs of
     * concurrent writes are shared, at most one per 2 ms. Measured on the 2-core development box
     * (BENCHMARKS.md, "Commit-log durability"): every durable mode cost the router's dm ladder
     * about the same Cassandra CPU per message (group 2 ms, group 10 ms and batch within noise
     * of each other, all about 40 % above periodic); what differs is the wait of a write that
     * comes alone, i.e. of every entity's next journal write: about the window with group sync
     * (10 ms at a 10 ms window, 2 ms at 2 ms), one fsync with batch. Group 2 ms waits about as
     * little as batch and bounds the fsyncs to 500 per second whatever the write rate.
     */
    public static final CommitLogSync DURABLE_DEFAULT = group(Duration.ofMillis(2));

    /**
     * Cassandra's own default: fsync every 10 s. Only for servers whose directory nobody reads
     * after a host crash (tests), or where replicas on other hosts carry the durability.
     */
    public static final CommitLogSync PERIODIC_DEFAULT = periodic(Duration.ofSeconds(10));

    public CommitLogSync {
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(window, "window");
        if (mode == Mode.BATCH) {
            // Cassandra 5 refuses a period with batch, and its batch window is deprecated and ignored
            if (!window.isZero()) {
                throw new IllegalArgumentException("batch commit-log sync has no window: " + window);
            }
        } else {
            if (window.compareTo(Duration.ofMillis(1)) < 0 || window.toNanos() % 1_000_000 != 0) {
                throw new IllegalArgumentException(mode.yamlName() + " commit-log sync needs a window of"
                        + " whole milliseconds, at least 1 ms: " + window);
            }
        }
    }

    public static CommitLogSync periodic(Duration period) {
        return new CommitLogSync(Mode.PERIODIC, period);
    }

    public static CommitLogSync group(Duration window) {
        return new CommitLogSync(Mode.GROUP, window);
    }

    public static CommitLogSync batch() {
        return new CommitLogSync(Mode.BATCH, Duration.ZERO);
    }

    /**
     * From configuration: {@code mode} is {@code periodic}, {@code group} or {@code batch}
     * (any case); the group window or the periodic period is taken for the mode that uses it.
     */
    public static CommitLogSync of(String mode, Duration groupWindow, Duration syncPeriod) {
        return switch (mode.trim().toLowerCase(Locale.ROOT)) {
            case "periodic" -> periodic(syncPeriod);
            case "group" -> group(groupWindow);
            case "batch" -> batch();
            default -> throw new IllegalArgumentException(
                    "commit-log sync must be periodic, group or batch: '" + mode + "'");
        };
    }

    /** True if Cassandra acknowledges a write only after the fsync that covers it. */
    public boolean syncsBeforeAcknowledging() {
        return mode != Mode.PERIODIC;
    }

    /**
     * The cassandra.yaml lines (Cassandra 5.0 names). Cassandra refuses the window key of another
     * mode ("Batch sync specified, but commitlog_sync_period found"), so only this mode's key goes in.
     */
    List<String> yamlLines() {
        return switch (mode) {
            case PERIODIC -> List.of("commitlog_sync: periodic", "commitlog_sync_period: " + window.toMillis() + "ms");
            case GROUP -> List.of("commitlog_sync: group", "commitlog_sync_group_window: " + window.toMillis() + "ms");
            case BATCH -> List.of("commitlog_sync: batch");
        };
    }

    @Override
    public String toString() {
        return mode == Mode.BATCH ? "batch" : mode.yamlName() + " " + window.toMillis() + " ms";
    }
}
