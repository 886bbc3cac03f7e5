package org.imrouter.loadtest.client;

/** An {@code error} frame that answered a request (sync, createGroup) the load generator awaits. */
public final class ServerError extends RuntimeException {
  private final String code;

  public ServerError(String code, String message) {
    super(code + ": " + message);
    this.code = code;
  }

  public String code() {
    return code;
  }
}
