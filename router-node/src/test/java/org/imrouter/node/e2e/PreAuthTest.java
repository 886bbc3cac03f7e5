package org.imrouter.node.e2e;

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
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Connections that never finish their handshake cannot lock valid clients out: past the pre-auth
 * cap the oldest of them is closed to make room, and each is closed once the pre-auth deadline
 * passes, long before the idle timeout would; an upgraded WebSocket is not bound by that deadline.
 *
 * <p>The node's connection slots are few here (max-connections), so that stalled sockets beyond
 * them would, without the cap, leave a valid client waiting in the accept backlog.
 */
class PreAuthTest {
  private static final int MAX_CONNECTIONS = 40;
  private static final int PRE_AUTH_CAP = 10;
  private static final Duration DEADLINE = Duration.ofSeconds(2);
  /** Far beyond the deadline: a socket still open this long after it was opened was not closed by it. */
  private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(60);
  /** Above max-connections, so every slot would be taken without the pre-auth cap. */
  private static final int STALLED = MAX_CONNECTIONS + 10;
  /** How long a stalled socket may stay open before the test gives up: well below the idle timeout. */
  private static final Duration CLOSE_WAIT = DEADLINE.plusSeconds(20);

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "pre_auth",
            Map.of(
                "router.http.max-connections", MAX_CONNECTIONS,
                "router.http.pre-auth-connections", PRE_AUTH_CAP,
                "router.http.pre-auth-timeout", DEADLINE.toMillis() + "ms",
                "router.http.idle-timeout", IDLE_TIMEOUT.toMillis() + "ms"));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  @Test
  void stalledConnectionsBeyondTheCapDoNotLockOutAValidClientAndAreClosedAfterTheDeadline() throws IOException {
    List<Stalled> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < STALLED; i++) {
        // half send nothing at all, half stop in the middle of the request line
        stalled.add(Stalled.open(node.port(), i % 2 == 0 ? "" : "GET /v1/ws?access_tok"));
      }
      try (WsClient valid = WsClient.connect(node.wsUri(Tokens.valid("pre-auth-valid")))) {
        valid.welcome();
        for (Stalled s : stalled) {
          assertTrue(s.awaitClosedByServer(), "stalled socket " + stalled.indexOf(s) + " still open after " + CLOSE_WAIT);
        }
        // the newest stalled socket was never the oldest, so only the deadline closed it
        Stalled newest = stalled.get(STALLED - 1);
        assertTrue(
            newest.openFor().compareTo(DEADLINE) >= 0,
            "the newest stalled socket was closed after " + newest.openFor() + ", before the " + DEADLINE + " deadline");
        // an upgraded session is past the pre-auth phase: the deadline did not touch it
        valid.roundTrip(1);
        assertTrue(!valid.isClosed(), "the valid client's WebSocket stays open past the pre-auth deadline");
      }
    } finally {
      for (Stalled s : stalled) {
        s.socket.close();
      }
    }
  }

  @Test
  void aConnectionAnsweredWithoutAnUpgradeIsClosedAtTheDeadlineToo() throws IOException {
    Stalled refused =
        Stalled.open(
            node.port(),
            "GET /v1/ws?access_token=" + Tokens.expired("pre-auth-expired") + " HTTP/1.1\r\n"
                + "Host: 127.0.0.1\r\n"
                + "Upgrade: websocket\r\n"
                + "Connection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n");
    try {
      String status = refused.readLine();
      assertTrue(status.startsWith("HTTP/1.1 401"), status);
      // a keep-alive HTTP connection that never upgrades is still in the pre-auth phase
      assertTrue(refused.awaitClosedByServer(), "a connection answered 401 is still open after " + CLOSE_WAIT);
    } finally {
      refused.socket.close();
    }
  }

  /** A raw TCP connection to the WebSocket port that sends what it is given, then nothing more. */
  private static final class Stalled {
    private final Socket socket;
    private final long openedNanos;
    private long closedNanos;

    private Stalled(Socket socket, long openedNanos) {
      this.socket = socket;
      this.openedNanos = openedNanos;
    }

    static Stalled open(int port, String sent) throws IOException {
      Socket socket = new Socket("127.0.0.1", port);
      long opened = System.nanoTime();
      socket.setSoTimeout((int) CLOSE_WAIT.toMillis());
      if (!sent.isEmpty()) {
        OutputStream out = socket.getOutputStream();
        out.write(sent.getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
      return new Stalled(socket, opened);
    }

    /** The first line the server sent. */
    String readLine() throws IOException {
      InputStream in = socket.getInputStream();
      StringBuilder line = new StringBuilder();
      for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
        line.append((char) b);
      }
      return line.toString();
    }

    /**
     * Reads (and drops) whatever the server still sends until it closes the connection; false when
     * it is still open after {@link #CLOSE_WAIT}.
     */
    boolean awaitClosedByServer() throws IOException {
      InputStream in = socket.getInputStream();
      try {
        while (in.read() >= 0) {
          // the rest of a response: not what this waits for
        }
        closedNanos = System.nanoTime();
        return true;
      } catch (SocketTimeoutException e) {
        return false;
      } catch (IOException e) {
        closedNanos = System.nanoTime(); // reset by the server
        return true;
      }
    }

    Duration openFor() {
      return Duration.ofNanos(closedNanos - openedNanos);
    }
  }
}
