package org.imrouter.node.stream;

import java.util.Optional;

/**
 * User and group ids, and the stream and conversation names built from them. Ids become
 * persistence ids, so the alphabet is closed: no separator of ours can appear in an id and two
 * different ids can never map to the same persistence id.
 */
public final class Ids {
  /** Ids are 1 to this many characters of [A-Za-z0-9._@-]. */
  public static final int MAX_ID_LENGTH = 64;

  public static final String INBOX = "inbox";
  public static final String USER_PREFIX = "user:";
  public static final String GROUP_PREFIX = "group:";
  /**
   * Sender of items a backend publishes as itself. ':' is outside the id alphabet, so no user can
   * ever be named like this: being "system:…" is itself the proof that a trusted backend acts.
   */
  public static final String SYSTEM_PREFIX = "system:";

  private Ids() {}

  /**
   * Whether {@code id} is 1 to {@link #MAX_ID_LENGTH} characters of [A-Za-z0-9._@-]. A loop, not a
   * regex: every send parses its target, and a matcher is an allocation and a state machine per
   * call.
   */
  public static boolean isValid(String id) {
    if (id == null || id.isEmpty() || id.length() > MAX_ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      if (!isIdChar(id.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  private static boolean isIdChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '-';
  }

  public static String groupStream(String groupId) {
    return GROUP_PREFIX + groupId;
  }

  public static String userConversation(String userId) {
    return USER_PREFIX + userId;
  }

  /** "system:name" with a valid name. */
  public static boolean isSystem(String sender) {
    return sender != null && sender.startsWith(SYSTEM_PREFIX) && isValid(sender.substring(SYSTEM_PREFIX.length()));
  }

  /** The conversation a direct item from {@code peer} belongs to: "user:X", or "system:N" itself. */
  public static String conversationWith(String peer) {
    return isSystem(peer) ? peer : userConversation(peer);
  }

  /** A send target or a stream name parsed into its kind and id. */
  public record Address(Kind kind, String id) {
    public enum Kind {
      USER,
      GROUP,
      INBOX
    }
  }

  /** Parses "user:X" or "group:G"; empty when malformed or the id is not valid. */
  public static Optional<Address> parseTarget(String target) {
    if (target == null) {
      return Optional.empty();
    }
    if (target.startsWith(USER_PREFIX)) {
      return addressOf(Address.Kind.USER, target.substring(USER_PREFIX.length()));
    }
    if (target.startsWith(GROUP_PREFIX)) {
      return addressOf(Address.Kind.GROUP, target.substring(GROUP_PREFIX.length()));
    }
    return Optional.empty();
  }

  /** Parses "inbox" or "group:G"; empty when malformed. */
  public static Optional<Address> parseStream(String stream) {
    if (INBOX.equals(stream)) {
      return Optional.of(new Address(Address.Kind.INBOX, ""));
    }
    if (stream != null && stream.startsWith(GROUP_PREFIX)) {
      return addressOf(Address.Kind.GROUP, stream.substring(GROUP_PREFIX.length()));
    }
    return Optional.empty();
  }

  private static Optional<Address> addressOf(Address.Kind kind, String id) {
    return isValid(id) ? Optional.of(new Address(kind, id)) : Optional.empty();
  }
}
