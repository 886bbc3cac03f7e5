/**
 * Faults to run the router under: a slow Cassandra ({@link
 * org.imrouter.loadtest.fault.LatencyProxy}), for the load generator's {@code latency-proxy}
 * command and for the router's own fault tests.
 */
package org.imrouter.loadtest.fault;
