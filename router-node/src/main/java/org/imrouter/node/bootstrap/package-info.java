/** Composition root: starts storage, the actor system, sharding, the gateway and the servers. */
package org.imrouter.node.bootstrap;
