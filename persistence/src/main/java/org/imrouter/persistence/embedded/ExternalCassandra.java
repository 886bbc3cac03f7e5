package org.imrouter.persistence.embedded;

import java.util.Objects;

/** A Cassandra that someone else runs and owns: this process only knows its address. */
public record ExternalCassandra(String contactPoint) implements CassandraEndpoint {

    public ExternalCassandra {
        Objects.requireNonNull(contactPoint, "contactPoint");
        if (contactPoint.isBlank()) {
            throw new IllegalArgumentException("contact point must not be blank");
        }
        contactPoint = contactPoint.trim();
    }
}
