package org.imrouter.node.grpc;

import java.util.Optional;
import org.imrouter.node.stream.Ids;

/** A stream as backends name it: "inbox:&lt;user&gt;" or "group:&lt;id&gt;". */
record BackendStream(boolean isInbox, String id) {
  static final String INBOX_PREFIX = "inbox:";

  static Optional<BackendStream> parse(String name) {
    if (name.startsWith(INBOX_PREFIX) && Ids.isValid(name.substring(INBOX_PREFIX.length()))) {
      return Optional.of(new BackendStream(true, name.substring(INBOX_PREFIX.length())));
    }
    if (name.startsWith(Ids.GROUP_PREFIX) && Ids.isValid(name.substring(Ids.GROUP_PREFIX.length()))) {
      return Optional.of(new BackendStream(false, name.substring(Ids.GROUP_PREFIX.length())));
    }
    return Optional.empty();
  }

  String name() {
    return (isInbox ? INBOX_PREFIX : Ids.GROUP_PREFIX) + id;
  }
}
