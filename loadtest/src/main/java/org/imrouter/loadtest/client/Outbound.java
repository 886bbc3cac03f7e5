package org.imrouter.loadtest.client;

/** Where a session's frames go: its connection, whichever transport carries it. */
interface Outbound {
  /** Writes one binary frame; false if the connection is not open or its send buffer is full. */
  boolean send(byte[] frame);

  /** Closes with a normal close frame (or drops the connection if the handshake is not done). */
  void close();
}
