/** The node's metrics (Kamon instruments, exported to Prometheus by the bootstrap). */
package org.imrouter.node.metrics;
