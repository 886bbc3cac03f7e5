/** What a node knows and decides about its place in the cluster (write fencing). */
package org.imrouter.node.cluster;
