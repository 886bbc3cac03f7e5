/**
 * The limits the router is measured against, in the same run: raw journal-shaped Cassandra
 * inserts (storage) and a bare WebSocket relay (transport).
 */
package org.imrouter.loadtest.baseline;
