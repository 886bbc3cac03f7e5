package org.imrouter.node.stream;

/** The stable error codes of the client protocol; clients switch on these strings. */
public enum ErrorCode {
  BAD_FRAME,
  UNAUTHENTICATED,
  FORBIDDEN,
  NOT_A_MEMBER,
  NOT_FOUND,
  ALREADY_EXISTS,
  TOO_LARGE,
  RATE_LIMITED,
  /** Storage is unavailable: retry later; nothing was half-written. */
  UNAVAILABLE,
  INTERNAL
}
