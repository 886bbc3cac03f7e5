/**
 * The WebSocket transport: the {@code /v1/ws} route with JWT auth before the upgrade (within a
 * deadline, and with a cap on connections still waiting for their upgrade, and a node-wide rate of
 * new sessions), frame
 * encoding (protobuf in binary messages, canonical JSON in text messages), size limits, and
 * connection close with specific close codes. Calls into delivery; nothing calls back into it.
 */
package org.imrouter.node.ws;
