package org.imrouter.node.ws;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.StreamLimitReachedException;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;
import org.imrouter.node.delivery.Session;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.ServerFrame;

/**
 * WebSocket messages to session commands and server frames to messages: protobuf in binary
 * messages, protobuf's canonical JSON in text messages (unknown fields ignored, int64 as string
 * or number). A message is read into memory only up to the frame limit; past it the connection
 * is closed.
 */
final class FrameCodec {
  private static final JsonFormat.Parser JSON_IN = JsonFormat.parser().ignoringUnknownFields();
  private static final JsonFormat.Printer JSON_OUT = JsonFormat.printer().omittingInsignificantWhitespace();

  private final int maxFrameBytes;
  private final Duration readTimeout;
  private final Materializer mat;

  FrameCodec(int maxFrameBytes, Duration readTimeout, Materializer mat) {
    this.maxFrameBytes = maxFrameBytes;
    this.readTimeout = readTimeout;
    this.mat = mat;
  }

  CompletionStage<Session.Command> decode(Message message) {
    if (message.isText()) {
      TextMessage text = message.asTextMessage();
      if (text.isStrict()) {
        return CompletableFuture.completedFuture(fromJson(text.getStrictText()));
      }
      return text.getStreamedText()
          .limitWeighted(maxFrameBytes, s -> (long) s.length()) // chars ≤ bytes: a cheap first bound
          .completionTimeout(readTimeout)
          .runWith(Sink.fold(new StringBuilder(), StringBuilder::append), mat)
          .thenApply(sb -> fromJson(sb.toString()))
          .exceptionally(FrameCodec::readFailure);
    }
    BinaryMessage binary = message.asBinaryMessage();
    if (binary.isStrict()) {
      return CompletableFuture.completedFuture(fromProtobuf(binary.getStrictData()));
    }
    return binary.getStreamedData()
        .limitWeighted(maxFrameBytes, b -> (long) b.size())
        .completionTimeout(readTimeout)
        .runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), mat)
        .thenApply(this::fromProtobuf)
        .exceptionally(FrameCodec::readFailure);
  }

  private Session.Command fromJson(String json) {
    if (json.getBytes(StandardCharsets.UTF_8).length > maxFrameBytes) {
      return Session.Oversized.INSTANCE;
    }
    ClientFrame.Builder frame = ClientFrame.newBuilder();
    try {
      JSON_IN.merge(json, frame);
      return new Session.FromClient(frame.build(), false);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return new Session.Unparseable("malformed JSON frame: " + e.getMessage(), false);
    }
  }

  private Session.Command fromProtobuf(ByteString bytes) {
    if (bytes.size() > maxFrameBytes) {
      return Session.Oversized.INSTANCE;
    }
    try {
      return new Session.FromClient(ClientFrame.parseFrom(bytes.toArrayUnsafe()), true);
    } catch (InvalidProtocolBufferException e) {
      return new Session.Unparseable("malformed protobuf frame: " + e.getMessage(), true);
    }
  }

  private static Session.Command readFailure(Throwable t) {
    Throwable cause = t.getCause() != null ? t.getCause() : t;
    if (cause instanceof StreamLimitReachedException) {
      return Session.Oversized.INSTANCE;
    }
    return new Session.Unparseable("message could not be read: " + cause.getMessage(), false);
  }

  static Message encode(ServerFrame frame, boolean binary) {
    if (binary) {
      return BinaryMessage.create(ByteString.fromArrayUnsafe(frame.toByteArray()));
    }
    try {
      return TextMessage.create(JSON_OUT.print(frame));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("server frame not printable as JSON", e);
    }
  }
}
