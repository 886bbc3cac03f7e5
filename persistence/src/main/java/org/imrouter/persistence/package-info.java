/**
 * Everything Cassandra: the protobuf serializer for persisted events and snapshots, history reads
 * straight from the journal, and (in {@code embedded}) the launcher of a real Cassandra server.
 */
package org.imrouter.persistence;
