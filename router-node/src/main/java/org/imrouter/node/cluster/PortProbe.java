package org.imrouter.node.cluster;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;

/**
 * One TCP connect to a member's cluster port, to tell a process that is gone from one that is
 * slow or cut off. A host whose kernel answers a connect with a reset has nothing listening on
 * that port: the process that held it exited (kill -9, a crash, an out-of-memory kill). A
 * process that stands still (a GC pause, SIGSTOP) still has its listening socket, and the kernel
 * completes the connect for it; a host that is down or cut off does not answer at all.
 */
final class PortProbe {
  /** What one connect found. */
  enum Outcome {
    /** Refused by the host: nothing listens on the port. */
    REFUSED,
    /** Something listens there. */
    ACCEPTED,
    /** No answer, or an answer that proves nothing (timeout, no route). */
    UNKNOWN
  }

  private PortProbe() {}

  static Outcome connect(String host, int port, Duration timeout) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
      return Outcome.ACCEPTED;
    } catch (ConnectException e) {
      // the JDK reports a reset answer to the connect ("Connection refused") this way; a timeout
      // or an unreachable network is also a ConnectException on some platforms, with another text
      String message = e.getMessage();
      return message != null && message.startsWith("Connection refused") ? Outcome.REFUSED : Outcome.UNKNOWN;
    } catch (IOException | IllegalArgumentException e) {
      return Outcome.UNKNOWN;
    }
  }
}
