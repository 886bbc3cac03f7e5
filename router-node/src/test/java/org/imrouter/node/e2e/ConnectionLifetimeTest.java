package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.testkit.Await;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Connections last as long as the client does: a silent but live client outlives the idle
 * timeout because the server pings it, a peer that stops answering is dropped, and the node
 * holds more connections than Pekko HTTP's default cap of 1,024.
 *
 * <p>The timeouts are scaled down from the defaults (25 s pings, 40 s idle, 60 s dead peer) so
 * the test is quick; their relation is the same.
 */
class ConnectionLifetimeTest {
  private static final Duration KEEP_ALIVE = Duration.ofMillis(500);
  private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration DEAD_PEER = Duration.ofSeconds(3);
  /** Pings that span well past both the idle and the dead-peer timeout. */
  private static final int PINGS_PAST_TIMEOUTS = 2 * (int) (DEAD_PEER.toMillis() / KEEP_ALIVE.toMillis());
  /** Above Pekko HTTP's default max-connections (1,024). */
  private static final int MANY = 1_100;
  /** Handshakes in flight while opening {@link #MANY}. */
  private static final int CONNECT_WAVE = 50;
  /** Devices per user (router.limits.connections-per-user): the test is about sockets, not users. */
  private static final int DEVICES_PER_USER = 10;
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "lifetime",
            Map.of(
                "router.http.keep-alive-interval", KEEP_ALIVE.toMillis() + "ms",
                "router.http.idle-timeout", IDLE_TIMEOUT.toMillis() + "ms",
                "router.http.dead-peer-timeout", DEAD_PEER.toMillis() + "ms"));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  @Test
  void aSilentClientThatAnswersPingsStaysConnectedPastTheIdleTimeout() {
    try (WsClient quiet = WsClient.connect(node.wsUri(Tokens.valid("lifetime-quiet")))) {
      quiet.welcome();
      // the client sends nothing of its own; the JDK client answers each ping with a pong
      Await.until(
          PINGS_PAST_TIMEOUTS + " server pings", WAIT, () -> quiet.pingsReceived() >= PINGS_PAST_TIMEOUTS || quiet.isClosed(),
          () -> "pings " + quiet.pingsReceived());
      assertFalse(quiet.isClosed(), "a live, silent client must not be disconnected");
      quiet.roundTrip(1); // and the connection still works
    }
  }

  @Test
  void aPeerThatStopsAnsweringIsDropped() throws IOException {
    try (Socket socket = new Socket("127.0.0.1", node.port())) {
      socket.setSoTimeout((int) WAIT.toMillis());
      upgrade(socket, Tokens.valid("lifetime-dead"));
      // from here on the "client" never writes a byte (no pong): it behaves like a vanished phone
      InputStream in = socket.getInputStream();
      int pingsSeen = 0;
      long deadline = System.nanoTime() + WAIT.toNanos();
      boolean ended = false;
      while (!ended && System.nanoTime() < deadline) {
        try {
          int header = in.read();
          if (header < 0) {
            ended = true;
            break;
          }
          int length = in.read() & 0x7f; // server frames are unmasked
          long payload = length == 126 ? (in.read() << 8 | in.read()) : length;
          if (length == 127) {
            throw new AssertionError("no frame this large is expected here");
          }
          in.skipNBytes(payload);
          if ((header & 0x0f) == PING_OPCODE) {
            pingsSeen++;
          }
        } catch (SocketTimeoutException e) {
          break;
        } catch (IOException e) {
          ended = true; // reset by the server
        }
      }
      assertTrue(pingsSeen > 0, "the server pinged the silent peer");
      assertTrue(ended, "a peer that answers no ping is dropped (saw " + pingsSeen + " pings)");
    }
  }

  @Test
  void holdsMoreConnectionsThanPekkoHttpsDefaultCap() {
    List<WsClient> clients = new ArrayList<>();
    ExecutorService handshakes = Executors.newFixedThreadPool(CONNECT_WAVE);
    try {
      for (int wave = 0; wave < MANY; wave += CONNECT_WAVE) {
        List<CompletableFuture<WsClient>> connecting = new ArrayList<>();
        for (int i = wave; i < Math.min(MANY, wave + CONNECT_WAVE); i++) {
          String user = "lifetime-many-" + i / DEVICES_PER_USER;
          connecting.add(CompletableFuture.supplyAsync(() -> WsClient.connect(node.wsUri(Tokens.valid(user))), handshakes));
        }
        for (CompletableFuture<WsClient> c : connecting) {
          clients.add(c.orTimeout(WAIT.toSeconds(), TimeUnit.SECONDS).join());
        }
      }
      clients.forEach(WsClient::welcome);
      assertEquals(MANY, clients.stream().filter(c -> !c.isClosed()).count());
      clients.get(MANY - 1).roundTrip(MANY);
    } finally {
      handshakes.shutdownNow();
      clients.forEach(WsClient::close);
    }
  }

  private static final int PING_OPCODE = 0x9;

  /** A hand-made WebSocket upgrade, so the test controls every byte the client sends. */
  private static void upgrade(Socket socket, String token) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(
        ("GET /v1/ws?access_token=" + token + " HTTP/1.1\r\n"
                + "Host: 127.0.0.1\r\n"
                + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = socket.getInputStream();
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new AssertionError("connection closed during the handshake: " + head);
      }
      head.append((char) b);
    }
    assertTrue(head.toString().startsWith("HTTP/1.1 101"), head.toString());
  }
}
