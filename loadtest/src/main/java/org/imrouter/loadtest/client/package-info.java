/** The load generator's WebSocket client: many sessions in one Pekko actor system, protobuf frames. */
package org.imrouter.loadtest.client;
