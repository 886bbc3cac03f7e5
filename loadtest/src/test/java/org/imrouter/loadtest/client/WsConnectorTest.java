package org.imrouter.loadtest.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler.HandshakeComplete;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.Welcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Netty client against a scripted Netty WebSocket server: it sends the token and asks for
 * binary frames, answers a ping with a pong carrying the same bytes, and reports the server's
 * close code and reason, or the status and Retry-After of a refused upgrade, which the ramp waits
 * out before it tries again.
 */
class WsConnectorTest {
  private static final int SERVER_CLOSE_CODE = 4001;
  private static final String SERVER_CLOSE_REASON = "pong seen";
  private static final String PING_BYTES = "are you there";
  private static final long TIMEOUT_SECONDS = 10;

  private final CompletableFuture<String> authorization = new CompletableFuture<>();
  private final CompletableFuture<String> requestUri = new CompletableFuture<>();
  private final CompletableFuture<String> pong = new CompletableFuture<>();
  private EventLoopGroup serverLoop;
  private Channel server;

  /** Welcomes, pings, and closes with {@link #SERVER_CLOSE_CODE} once the pong is back. */
  /**
   * Whether the server pings after the welcome and closes with its own code once the pong is
   * back; off where the client closes, or the two closes would race.
   */
  private volatile boolean pingThenClose = true;

  /** Upgrades still to be refused with 503 and {@link #RETRY_AFTER_SECONDS} before one is let in. */
  private final AtomicInteger refusalsLeft = new AtomicInteger();

  private static final int RETRY_AFTER_SECONDS = 1;

  /** Answers the next upgrades with 503 while {@link #refusalsLeft} says so, as an overloaded router does. */
  private final class Refusing extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof FullHttpRequest request && refusalsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        request.release();
        FullHttpResponse refused = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SERVICE_UNAVAILABLE);
        refused.headers().set(HttpHeaderNames.RETRY_AFTER, RETRY_AFTER_SECONDS).setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        ctx.writeAndFlush(refused).addListener(ChannelFutureListener.CLOSE);
        return;
      }
      ctx.fireChannelRead(msg);
    }
  }

  private final class ScriptedServer extends SimpleChannelInboundHandler<WebSocketFrame> {
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
      if (event instanceof HandshakeComplete hs) {
        authorization.complete(hs.requestHeaders().get(HttpHeaderNames.AUTHORIZATION));
        requestUri.complete(hs.requestUri());
        ServerFrame welcome = ServerFrame.newBuilder().setWelcome(Welcome.newBuilder().setUserId("alice")).build();
        ctx.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(welcome.toByteArray())));
        if (pingThenClose) {
          ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.copiedBuffer(PING_BYTES, StandardCharsets.UTF_8)));
        }
      }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
      if (frame instanceof PongWebSocketFrame) {
        pong.complete(frame.content().toString(StandardCharsets.UTF_8));
        ctx.writeAndFlush(new CloseWebSocketFrame(SERVER_CLOSE_CODE, SERVER_CLOSE_REASON));
      }
    }
  }

  @BeforeEach
  void startServer() throws InterruptedException {
    serverLoop = new NioEventLoopGroup(1);
    WebSocketServerProtocolConfig config =
        WebSocketServerProtocolConfig.newBuilder().websocketPath("/v1/ws").checkStartsWith(true).dropPongFrames(false).build();
    server =
        new ServerBootstrap()
            .group(serverLoop)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(new HttpServerCodec(), new HttpObjectAggregator(1 << 16), new Refusing(), new WebSocketServerProtocolHandler(config), new ScriptedServer());
                  }
                })
            .bind("127.0.0.1", 0)
            .sync()
            .channel();
  }

  @AfterEach
  void stopServer() {
    server.close().syncUninterruptibly();
    serverLoop.shutdownGracefully(0, TIMEOUT_SECONDS, TimeUnit.SECONDS).syncUninterruptibly();
  }

  @Test
  void answersPingsAndReportsTheServersCloseCode() throws Exception {
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    try (WsConnector connector = new WsConnector("test", Optional.of("127.0.0.1"))) {
      ClientSession session =
          connector.open("ws://127.0.0.1:" + port + "/v1/ws", "s1", "alice", "tok", new Checks(), SessionListener.NONE);

      assertEquals("alice", session.welcome().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getUserId());
      assertEquals("Bearer tok", authorization.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
      assertTrue(requestUri.get(TIMEOUT_SECONDS, TimeUnit.SECONDS).endsWith("?encoding=binary"));
      assertEquals(PING_BYTES, pong.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
      CloseInfo closed = session.closed().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertEquals(SERVER_CLOSE_CODE, closed.code());
      assertEquals(SERVER_CLOSE_REASON, closed.reason());
    }
  }

  @Test
  void aClientCloseIsNormal() throws Exception {
    pingThenClose = false;
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    try (WsConnector connector = new WsConnector("test", Optional.empty())) {
      ClientSession session =
          connector.open("ws://127.0.0.1:" + port + "/v1/ws", "s1", "alice", "tok", new Checks(), SessionListener.NONE);
      session.welcome().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      session.close();
      assertEquals(CloseInfo.NORMAL, session.closed().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).code());
    }
  }

  @Test
  void aRefusedConnectionFailsTheWelcome() throws Exception {
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    server.close().syncUninterruptibly();
    try (WsConnector connector = new WsConnector("test", Optional.empty())) {
      ClientSession session =
          connector.open("ws://127.0.0.1:" + port + "/v1/ws", "s1", "alice", "tok", new Checks(), SessionListener.NONE);
      assertEquals(CloseInfo.ABNORMAL, session.closed().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).code());
      // the end is recorded before the welcome fails, so that the failure's reader can see it
      assertThrows(ExecutionException.class, () -> session.welcome().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    }
  }

  @Test
  void aRefusedUpgradeReportsItsStatusAndRetryAfter() throws Exception {
    refusalsLeft.set(1);
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    try (WsConnector connector = new WsConnector("test", Optional.empty())) {
      ClientSession session =
          connector.open("ws://127.0.0.1:" + port + "/v1/ws", "s1", "alice", "tok", new Checks(), SessionListener.NONE);
      CloseInfo refused = session.closed().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertEquals(503, refused.refusedStatus());
      assertEquals(Optional.of(Duration.ofSeconds(RETRY_AFTER_SECONDS)), refused.retryAfter());
      // the end is recorded before the welcome fails, so that the failure's reader can see it
      assertThrows(ExecutionException.class, () -> session.welcome().get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    }
  }

  @Test
  void theRampComesBackAfterARefusalAndIsWelcomed() {
    pingThenClose = false;
    refusalsLeft.set(2);
    int port = ((InetSocketAddress) server.localAddress()).getPort();
    try (WsConnector connector = new WsConnector("test", Optional.empty())) {
      SessionRamp.Outcome outcome =
          new SessionRamp(connector, "ws://127.0.0.1:" + port + "/v1/ws", new Checks(), user -> "tok")
              .open(List.of(new SessionSpec("s1", "alice")), 1, Duration.ofSeconds(TIMEOUT_SECONDS), SessionListener.NONE);
      assertEquals(List.of(), outcome.failures());
      assertEquals(1, outcome.welcomed());
      assertEquals(2, outcome.retries(), "each refusal was waited out and tried again");
      outcome.sessions().get(0).close();
    }
  }
}
