/**
 * Client-side tools: the load generator ({@link org.imrouter.loadtest.LoadGen}), a command-line
 * chat client, an admin client for the gRPC ingress, and a development token minter.
 */
package org.imrouter.loadtest;
