package org.imrouter.loadtest.client;

import java.util.Optional;

/**
 * A session to open: its run-unique id, the user it authenticates as and, when it reconnects a
 * session that ended, how that one ended (its suggested delay is waited for first, and it goes to
 * the next endpoint, see {@link SessionRamp}).
 */
public record SessionSpec(String id, String user, Optional<CloseInfo> endedBefore) {
  /** A first connect. */
  public SessionSpec(String id, String user) {
    this(id, user, Optional.empty());
  }
}
