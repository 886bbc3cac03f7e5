package org.imrouter.node.ws;

/** Ends a connection's handler flow and asks for a WebSocket close frame with this code. */
final class CloseRequest extends RuntimeException {
  final int code;
  final String reason;

  CloseRequest(int code, String reason) {
    super("close " + code + " " + reason, null, false, false);
    this.code = code;
    this.reason = reason;
  }
}
