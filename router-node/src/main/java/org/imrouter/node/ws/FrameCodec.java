package org.imrouter.node.ws;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.pekko.util.ByteString;
import org.imrouter.node.delivery.Session;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.ServerFrame;

/**
 * Client messages to session commands and server frames to message payloads: protobuf in binary
 * messages, protobuf's canonical JSON in text messages (unknown fields ignored, int64 as string
 * or number). {@link SessionStage} assembles a message and enforces the frame limit before
 * decoding.
 *
 * <p>Text must be strict JSON (RFC 8259). Protobuf's JSON parser is lenient: it executed unquoted
 * names, single quotes, comments and a valid frame followed by garbage. So a strict streaming
 * pass (Jackson, which also bounds nesting depth) comes first. Errors carry fixed messages, never
 * the parser's own text, which quoted the input back (12 KB for one deeply nested frame).
 */
final class FrameCodec {
  static final String NOT_JSON =
      "a text message must be exactly one JSON object (quoted names, double-quoted strings, no comments, nothing after it)";
  static final String NOT_A_CLIENT_FRAME = "the JSON does not fit the ClientFrame schema (a field has the wrong type or value)";
  static final String NOT_PROTOBUF = "a binary message must be one protobuf ClientFrame";

  private static final JsonFactory STRICT_JSON = JsonFactory.builder().build();
  private static final JsonFormat.Parser JSON_IN = JsonFormat.parser().ignoringUnknownFields();
  private static final JsonFormat.Printer JSON_OUT = JsonFormat.printer().omittingInsignificantWhitespace();

  private FrameCodec() {}

  static Session.Command fromJson(String json) {
    if (!isOneStrictJsonObject(json)) {
      return new Session.Unparseable(NOT_JSON, false);
    }
    ClientFrame.Builder frame = ClientFrame.newBuilder();
    try {
      JSON_IN.merge(json, frame);
      return new Session.FromClient(frame.build(), false);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return new Session.Unparseable(NOT_A_CLIENT_FRAME, false);
    }
  }

  /** One JSON object and nothing after it, under Jackson's strict defaults and nesting limit. */
  static boolean isOneStrictJsonObject(String json) {
    try (JsonParser parser = STRICT_JSON.createParser(json)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return false;
      }
      parser.skipChildren(); // reads every token of the object, so any syntax error throws here
      return parser.nextToken() == null;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  static Session.Command fromProtobuf(ByteString bytes) {
    try {
      return new Session.FromClient(ClientFrame.parseFrom(bytes.toArrayUnsafe()), true);
    } catch (InvalidProtocolBufferException e) {
      return new Session.Unparseable(NOT_PROTOBUF, true);
    }
  }

  /** The payload of the WebSocket message carrying this frame (binary: protobuf; text: JSON). */
  static ByteString encode(ServerFrame frame, boolean binary) {
    if (binary) {
      return ByteString.fromArrayUnsafe(frame.toByteArray());
    }
    try {
      return ByteString.fromString(JSON_OUT.print(frame), StandardCharsets.UTF_8);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("server frame not printable as JSON", e);
    }
  }
}
