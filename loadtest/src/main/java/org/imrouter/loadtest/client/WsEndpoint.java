package org.imrouter.loadtest.client;

import java.net.URI;

/** A WebSocket URL taken apart for connecting: where to connect, and whether with TLS. */
record WsEndpoint(URI uri, String host, int port, boolean tls) {
  private static final int WS_PORT = 80;
  private static final int WSS_PORT = 443;

  static WsEndpoint parse(String url) {
    URI uri = URI.create(url);
    boolean tls = "wss".equalsIgnoreCase(uri.getScheme());
    if (!tls && !"ws".equalsIgnoreCase(uri.getScheme())) {
      throw new IllegalArgumentException("not a ws:// or wss:// URL: " + url);
    }
    int port = uri.getPort() > 0 ? uri.getPort() : tls ? WSS_PORT : WS_PORT;
    return new WsEndpoint(uri, uri.getHost(), port, tls);
  }
}
