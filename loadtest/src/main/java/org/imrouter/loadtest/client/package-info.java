/**
 * The load generator's WebSocket client: many sessions as Netty channels on one shared event
 * loop, binary protobuf frames, and the ramp that opens them and reconnects them as the server suggests
 * ({@link org.imrouter.loadtest.client.ReconnectPolicy}).
 */
package org.imrouter.loadtest.client;
