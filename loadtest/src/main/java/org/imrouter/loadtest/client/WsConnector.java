package org.imrouter.loadtest.client;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;
import org.imrouter.loadtest.check.Checks;

/**
 * Opens WebSocket sessions with Netty: every session of the run is one channel on one shared
 * event loop of {@link #EVENT_LOOP_THREADS} threads, so a session costs a socket and a short
 * pipeline, not threads or stream stages; one process holds 18,000 and connects over a thousand a
 * second. Frames are binary protobuf ({@code ?encoding=binary}), the token goes in the
 * Authorization header, and Netty's WebSocket protocol handler answers the server's pings.
 */
public final class WsConnector implements AutoCloseable {
  /**
   * Bytes a session may have waiting to be written before {@link ClientSession#send} refuses
   * (about 4,000 dm frames); sending resumes below the low mark.
   */
  static final int SEND_BUFFER_HIGH_BYTES = 1 << 20;

  static final int SEND_BUFFER_LOW_BYTES = SEND_BUFFER_HIGH_BYTES / 2;

  /** Two at most: on this 2-core box the load generator must leave a core to what it measures. */
  static final int EVENT_LOOP_THREADS = Math.min(2, Runtime.getRuntime().availableProcessors());

  /** The largest message the load generator accepts: a full history page with headroom. */
  private static final int MAX_MESSAGE_BYTES = 16 << 20;

  /** The 101 response, collected whole so the handshaker can check it. */
  private static final int MAX_HANDSHAKE_RESPONSE_BYTES = 64 << 10;

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);

  /** Upgrade response deadline; the ramp's welcome timeout bounds the whole session start anyway. */
  private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(60);

  private static final Duration SHUTDOWN_QUIET_PERIOD = Duration.ZERO;
  private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

  private static final String BEARER = "Bearer ";

  private final EventLoopGroup eventLoop;
  private final Bootstrap bootstrap;
  private final Optional<InetSocketAddress> localAddress;
  private volatile SslContext tls;

  /**
   * @param name names the event-loop threads
   * @param localHost the client's source address (e.g. 127.0.0.2), to spread ephemeral ports
   */
  public WsConnector(String name, Optional<String> localHost) {
    this.eventLoop = new NioEventLoopGroup(EVENT_LOOP_THREADS, new DefaultThreadFactory(name, true));
    this.localAddress = localHost.map(h -> new InetSocketAddress(h, 0));
    this.bootstrap =
        new Bootstrap()
            .group(eventLoop)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis())
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(SEND_BUFFER_LOW_BYTES, SEND_BUFFER_HIGH_BYTES));
  }

  /**
   * Starts connecting; the session's {@link ClientSession#welcome()} completes when the server
   * has welcomed it, or fails if the connection is refused or ends first.
   */
  public ClientSession open(String url, String sessionId, String user, String token, Checks checks, SessionListener listener) {
    ClientSession session = new ClientSession(sessionId, user, checks, listener);
    WsEndpoint endpoint = WsEndpoint.parse(binaryUrl(url));
    HttpHeaders headers = new DefaultHttpHeaders().set(HttpHeaderNames.AUTHORIZATION, BEARER + token);
    WebSocketClientHandshaker handshaker =
        WebSocketClientHandshakerFactory.newHandshaker(endpoint.uri(), WebSocketVersion.V13, null, false, headers, MAX_MESSAGE_BYTES);
    SslContext sslContext = endpoint.tls() ? tlsContext() : null;
    InetSocketAddress remote = new InetSocketAddress(endpoint.host(), endpoint.port());
    Bootstrap b =
        bootstrap
            .clone()
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ChannelPipeline p = ch.pipeline();
                    if (sslContext != null) {
                      p.addLast(sslContext.newHandler(ch.alloc(), endpoint.host(), endpoint.port()));
                    }
                    p.addLast(new HttpClientCodec());
                    p.addLast(new HttpObjectAggregator(MAX_HANDSHAKE_RESPONSE_BYTES));
                    // close frames are not handled here: the session handler records their code first
                    p.addLast(new WebSocketClientProtocolHandler(handshaker, false, true, HANDSHAKE_TIMEOUT.toMillis()));
                    p.addLast(new WebSocketFrameAggregator(MAX_MESSAGE_BYTES));
                    WsClientHandler handler = new WsClientHandler(session, ch);
                    p.addLast(handler);
                    session.attach(handler);
                  }
                });
    ChannelFuture connecting = localAddress.map(local -> b.connect(remote, local)).orElseGet(() -> b.connect(remote));
    connecting.addListener(
        f -> {
          if (!f.isSuccess()) {
            session.connectFailed(f.cause());
          }
        });
    return session;
  }

  private SslContext tlsContext() {
    SslContext context = tls;
    if (context == null) {
      try {
        context = SslContextBuilder.forClient().build();
      } catch (SSLException e) {
        throw new IllegalStateException("cannot set up TLS for wss://", e);
      }
      tls = context;
    }
    return context;
  }

  static String binaryUrl(String url) {
    return url + (url.contains("?") ? "&" : "?") + "encoding=binary";
  }

  @Override
  public void close() {
    eventLoop
        .shutdownGracefully(SHUTDOWN_QUIET_PERIOD.toMillis(), SHUTDOWN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .awaitUninterruptibly(SHUTDOWN_TIMEOUT.toMillis());
  }
}
