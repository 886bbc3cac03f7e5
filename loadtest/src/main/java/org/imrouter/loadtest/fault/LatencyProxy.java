package org.imrouter.loadtest.fault;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A TCP proxy in front of a server (Cassandra's CQL port) that holds every byte the server sends
 * back for {@link #setLatency latency} before passing it on: a server that answers slowly (a
 * saturated disk, a long GC pause on every request) while it stays up and keeps its sockets. The
 * client's bytes go through at once. Order is kept: a chunk never overtakes an earlier one, so a
 * latency set lower takes effect once the chunks held under the old one are out. Bytes are held
 * in memory without bound: it is a test and benchmark tool, not a production component.
 */
public final class LatencyProxy implements AutoCloseable {
  private static final int CHUNK_BYTES = 64 * 1024;
  /** connections waiting to be accepted: the driver opens a handful */
  private static final int BACKLOG = 50;

  /** Bytes read from the server, and when they may go on to the client. */
  private record Held(byte[] bytes, long dueNanos) {}

  /** The end of a server stream: the writer closes the client's side once everything before it is out. */
  private static final Held END = new Held(new byte[0], 0);

  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile long latencyNanos;
  private volatile boolean closed;

  private LatencyProxy(InetSocketAddress target, int port) throws IOException {
    this.target = target;
    this.listener = new ServerSocket(port, BACKLOG, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "latency-proxy-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Starts a proxy on a free loopback port in front of {@code hostAndPort}, with no latency yet. */
  public static LatencyProxy start(String hostAndPort) throws IOException {
    return start(hostAndPort, 0);
  }

  /** The same on loopback port {@code port} (0: a free one). */
  public static LatencyProxy start(String hostAndPort, int port) throws IOException {
    int colon = hostAndPort.lastIndexOf(':');
    return new LatencyProxy(new InetSocketAddress(hostAndPort.substring(0, colon), Integer.parseInt(hostAndPort.substring(colon + 1))), port);
  }

  /** host:port to give clients in place of the server's */
  public String address() {
    return listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort();
  }

  /** How long the server's bytes are held from now on. */
  public void setLatency(Duration latency) {
    latencyNanos = latency.toNanos();
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        Socket server = new Socket(target.getAddress(), target.getPort());
        client.setTcpNoDelay(true);
        server.setTcpNoDelay(true);
        sockets.add(client);
        sockets.add(server);
        daemon("latency-proxy-up", () -> pump(client, server));
        BlockingQueue<Held> held = new LinkedBlockingQueue<>();
        daemon("latency-proxy-hold", () -> hold(server, held));
        daemon("latency-proxy-release", () -> release(held, client));
      } catch (IOException e) {
        if (!closed) {
          System.err.println("latency proxy: " + e);
        }
      }
    }
  }

  /** client to server, at once */
  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[CHUNK_BYTES];
    try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException closedSocket) {
      // either side went away: the other is closed below
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  /** server to queue, each chunk stamped with when it may go on */
  private void hold(Socket server, BlockingQueue<Held> held) {
    byte[] buffer = new byte[CHUNK_BYTES];
    try (InputStream in = server.getInputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        held.add(new Held(Arrays.copyOf(buffer, n), System.nanoTime() + latencyNanos));
      }
    } catch (IOException closedSocket) {
      // the server or the proxy closed it
    } finally {
      held.add(END);
    }
  }

  /** queue to client, each chunk when it is due */
  private void release(BlockingQueue<Held> held, Socket client) {
    try (OutputStream out = client.getOutputStream()) {
      while (true) {
        Held next = held.take();
        if (next == END) {
          return;
        }
        long wait = next.dueNanos() - System.nanoTime();
        if (wait > 0) {
          Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
        out.write(next.bytes());
        out.flush();
      }
    } catch (IOException | InterruptedException closed) {
      // the client went away, or the proxy closed
    } finally {
      closeQuietly(client);
    }
  }

  private static void daemon(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      listener.close();
    } catch (IOException ignored) {
      // already closed
    }
    sockets.forEach(LatencyProxy::closeQuietly);
  }
}
