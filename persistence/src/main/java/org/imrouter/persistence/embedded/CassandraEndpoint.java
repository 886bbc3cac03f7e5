package org.imrouter.persistence.embedded;

import java.util.Arrays;
import java.util.List;

/**
 * Where a Cassandra cluster answers CQL: the one thing tests and configuration need to know,
 * whether the server was started here ({@link EmbeddedCassandra}) or provided from outside
 * ({@link ExternalCassandra}).
 */
public interface CassandraEndpoint {

    /** The data center name SimpleSnitch reports; the driver's load balancing needs it. */
    String LOCAL_DATACENTER = "datacenter1";

    /**
     * Contact point(s) as {@code host:port}; several are separated by commas, exactly as they
     * were provided.
     */
    String contactPoint();

    /** {@link #contactPoint()} split into single {@code host:port} entries. */
    default List<String> contactPoints() {
        return Arrays.stream(contactPoint().split(","))
                .map(String::trim)
                .filter(entry -> !entry.isEmpty())
                .toList();
    }
}
