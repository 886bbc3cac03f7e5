package org.imrouter.loadtest.report;

import java.util.Map;
import org.imrouter.loadtest.metrics.Percentiles;

/**
 * Raw journal-shaped inserts through the Cassandra driver: the storage limit. A direct message is
 * two journal writes (the sender's copy and the recipient's), so the storage limit in messages per
 * second is half the insert rate.
 */
public record StorageBaseline(
    String consistency,
    int inFlight,
    double seconds,
    long inserts,
    double insertsPerSecond,
    Percentiles latency,
    Map<String, Long> errors,
    double directMessagesPerSecond) {}
