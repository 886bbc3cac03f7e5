package org.imrouter.node.ws;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
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
 */
final class FrameCodec {
  private static final JsonFormat.Parser JSON_IN = JsonFormat.parser().ignoringUnknownFields();
  private static final JsonFormat.Printer JSON_OUT = JsonFormat.printer().omittingInsignificantWhitespace();

  private FrameCodec() {}

  static Session.Command fromJson(String json) {
    ClientFrame.Builder frame = ClientFrame.newBuilder();
    try {
      JSON_IN.merge(json, frame);
      return new Session.FromClient(frame.build(), false);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return new Session.Unparseable("malformed JSON frame: " + e.getMessage(), false);
    }
  }

  static Session.Command fromProtobuf(ByteString bytes) {
    try {
      return new Session.FromClient(ClientFrame.parseFrom(bytes.toArrayUnsafe()), true);
    } catch (InvalidProtocolBufferException e) {
      return new Session.Unparseable("malformed protobuf frame: " + e.getMessage(), true);
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
