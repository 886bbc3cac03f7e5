/**
 * The load generator's WebSocket client: many sessions as Netty channels on one shared event
 * loop, binary protobuf frames, and the ramp that opens them.
 */
package org.imrouter.loadtest.client;
