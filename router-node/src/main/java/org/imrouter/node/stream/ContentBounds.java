package org.imrouter.node.stream;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.imrouter.node.config.RouterSettings;

/**
 * The bounds on what a client or backend asks the router to store, applied the same way by every
 * ingress (WebSocket sessions and the gRPC ingress): message text, payload and content type, and
 * group titles. A field above its bound is TOO_LARGE, never stored and never truncated.
 */
public final class ContentBounds {
  /** Why a request was refused, as the ingress answers it. */
  public record Violation(ErrorCode code, String message) {}

  private ContentBounds() {}

  /** A message to store: text or payload required, each field within its limit. */
  public static Optional<Violation> message(RouterSettings.Limits limits, String contentType, String text, int payloadBytes) {
    if (text.isEmpty() && payloadBytes == 0) {
      return Optional.of(new Violation(ErrorCode.BAD_FRAME, "a message needs text or payload"));
    }
    if (exceeds(text, limits.maxTextBytes())) {
      return tooLarge("text", limits.maxTextBytes());
    }
    if (payloadBytes > limits.maxPayloadBytes()) {
      return tooLarge("payload", limits.maxPayloadBytes());
    }
    if (exceeds(contentType, limits.maxContentTypeBytes())) {
      return tooLarge("contentType", limits.maxContentTypeBytes());
    }
    return Optional.empty();
  }

  /** A group title. */
  public static Optional<Violation> title(RouterSettings.Limits limits, String title) {
    return exceeds(title, limits.maxTitleBytes()) ? tooLarge("title", limits.maxTitleBytes()) : Optional.empty();
  }

  private static Optional<Violation> tooLarge(String field, int limit) {
    return Optional.of(new Violation(ErrorCode.TOO_LARGE, field + " above " + limit + " bytes"));
  }

  /** Whether the UTF-8 encoding of {@code s} is longer than {@code limit} bytes. */
  static boolean exceeds(String s, int limit) {
    // a char takes 1 to 3 UTF-8 bytes (a surrogate pair 4 for two chars): most strings are judged
    // by their length alone, without encoding them
    if (s.length() > limit) {
      return true;
    }
    if ((long) s.length() * 3 <= limit) {
      return false;
    }
    return s.getBytes(StandardCharsets.UTF_8).length > limit;
  }
}
