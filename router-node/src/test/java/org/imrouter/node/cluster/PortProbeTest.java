package org.imrouter.node.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A port with a listener is told from one without: only the second proves its process gone. */
class PortProbeTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  @Test
  void aListeningPortAcceptsAndAClosedOneRefuses() throws IOException {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    int port;
    try (ServerSocket listener = new ServerSocket(0, 1, loopback)) {
      port = listener.getLocalPort();
      assertEquals(PortProbe.Outcome.ACCEPTED, PortProbe.connect(loopback.getHostAddress(), port, TIMEOUT));
    }
    // the listener's process is gone: the kernel answers the connect with a reset
    assertEquals(PortProbe.Outcome.REFUSED, PortProbe.connect(loopback.getHostAddress(), port, TIMEOUT));
  }

  @Test
  void anUnresolvableHostProvesNothing() {
    assertEquals(PortProbe.Outcome.UNKNOWN, PortProbe.connect("no-such-host.invalid", 25520, TIMEOUT));
  }
}
