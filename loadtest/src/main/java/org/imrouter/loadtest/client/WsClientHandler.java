package org.imrouter.loadtest.client;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakeException;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler.ClientHandshakeStateEvent;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * The last handler of one session's pipeline: hands binary frames to the session, records the
 * server's close frame (or its refusal of the upgrade), and reports how the connection ended. Pings never reach it: Netty's
 * WebSocket protocol handler in front answers them with pongs. Runs on the connection's event
 * loop; {@link #send} and {@link #close} may be called from any thread.
 */
final class WsClientHandler extends SimpleChannelInboundHandler<WebSocketFrame> implements Outbound {
  /** RFC 6455: the close frame carried no status code. */
  static final int NO_STATUS = 1005;

  private final ClientSession session;
  private final Channel channel;
  private volatile boolean open;
  private volatile boolean closedByClient;
  // event-loop only
  private CloseInfo peerClose;
  private Throwable failure;

  WsClientHandler(ClientSession session, Channel channel) {
    this.session = session;
    this.channel = channel;
  }

  @Override
  public boolean send(byte[] frame) {
    // not writable = the outbound buffer is above its high-water mark: refuse rather than grow it
    if (!open || !channel.isWritable()) {
      return false;
    }
    channel.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(frame)), channel.voidPromise());
    return true;
  }

  @Override
  public void close() {
    closedByClient = true;
    if (open) {
      open = false;
      // the server answers a close frame with its own; the load generator need not wait for it
      channel
          .writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      channel.close();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
    if (event == ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
      open = !closedByClient;
      if (closedByClient) {
        close(); // the ramp gave up on this session while it was still handshaking
      }
    }
    super.userEventTriggered(ctx, event);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
    if (frame instanceof BinaryWebSocketFrame) {
      session.onBytes(frame.content().nioBuffer());
    } else if (frame instanceof CloseWebSocketFrame close) {
      int code = close.statusCode() < 0 ? NO_STATUS : close.statusCode();
      peerClose = new CloseInfo(code, close.reasonText(), System.nanoTime());
      open = false;
      // echo the close as RFC 6455 asks, then let the server's TCP close (or ours) end the channel
      ctx.writeAndFlush(new CloseWebSocketFrame(code == NO_STATUS ? WebSocketCloseStatus.NORMAL_CLOSURE.code() : code, ""))
          .addListener(ChannelFutureListener.CLOSE);
    }
    // text frames (the JSON encoding) are not used: the URL asks for binary
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (failure == null) {
      failure = cause;
    }
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    open = false;
    session.ended(closeInfo());
    super.channelInactive(ctx);
  }

  private CloseInfo closeInfo() {
    long now = System.nanoTime();
    if (peerClose != null) {
      return peerClose;
    }
    if (closedByClient) {
      return new CloseInfo(CloseInfo.NORMAL, "", now);
    }
    if (failure instanceof WebSocketClientHandshakeException refused && refused.response() != null) {
      // the server answered the upgrade with a status (401, 503 …) instead of 101
      return CloseInfo.refused(
          refused.response().status().code(), RetryHint.fromRetryAfter(refused.response().headers().get(HttpHeaderNames.RETRY_AFTER)), now);
    }
    return new CloseInfo(CloseInfo.ABNORMAL, failure == null ? "connection closed without a close frame" : failure.toString(), now);
  }
}
