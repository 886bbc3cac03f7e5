package org.imrouter.loadtest.client;

/**
 * How a connection ended: the server's close code (1000 for a normal close, {@link #ABNORMAL}
 * when the connection broke without a close frame) and reason.
 */
public record CloseInfo(int code, String reason, long atNanos) {
  /** RFC 6455's "no close frame received" code. */
  public static final int ABNORMAL = 1006;

  public static final int NORMAL = 1000;
}
