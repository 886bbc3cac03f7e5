package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The node as an operator runs it: a real JVM started through the production main class with its
 * own embedded Cassandra child process, stopped with SIGTERM or killed with SIGKILL, and started
 * again on the same data directory. Every accepted message must come back with the same seq and
 * msgId, and the embedded Cassandra must not outlive its node.
 */
class NodeProcessTest {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(150);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(90);
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void killLeftovers() {
    started.forEach(Process::destroyForcibly);
  }

  private record Ports(int http, int grpc, int management, int metrics, int cluster, int cassandra, int storage) {
    static Ports free() throws IOException {
      return new Ports(freePort(), freePort(), freePort(), freePort(), freePort(), freePort(), freePort());
    }
  }

  private Process startNode(Path dataDir, Ports ports) throws IOException {
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx256m",
            "-cp",
            System.getProperty("java.class.path"),
            "org.imrouter.node.bootstrap.Main");
    Map<String, String> env = pb.environment();
    env.remove("ROUTER_CASSANDRA_CONTACT_POINTS");
    env.put("ROUTER_DATA_DIR", dataDir.toString());
    env.put("ROUTER_HTTP_PORT", String.valueOf(ports.http()));
    env.put("ROUTER_GRPC_PORT", String.valueOf(ports.grpc()));
    env.put("ROUTER_MANAGEMENT_PORT", String.valueOf(ports.management()));
    env.put("ROUTER_METRICS_PORT", String.valueOf(ports.metrics()));
    env.put("ROUTER_CLUSTER_PORT", String.valueOf(ports.cluster()));
    env.put("ROUTER_CASSANDRA_PORT", String.valueOf(ports.cassandra()));
    env.put("ROUTER_CASSANDRA_STORAGE_PORT", String.valueOf(ports.storage()));
    env.put("ROUTER_JWT_SECRET", Tokens.SECRET);
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dataDir.resolve("node.log").toFile()));
    Process p = pb.start();
    started.add(p);
    awaitReady(p, ports, dataDir);
    return p;
  }

  /** Waits until /ready answers 200: Cassandra is up and the node can persist. */
  private static void awaitReady(Process p, Ports ports, Path dataDir) throws IOException {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    HttpRequest ready = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.management() + "/ready")).build();
    while (System.nanoTime() < deadline) {
      assertTrue(p.isAlive(), () -> "node died at start:\n" + tail(dataDir.resolve("node.log")));
      try {
        if (HTTP.send(ready, HttpResponse.BodyHandlers.ofString()).statusCode() == 200 && listening(ports.http())) {
          return;
        }
      } catch (IOException | InterruptedException notYet) {
        // not listening yet
      }
      waitFor(p, Duration.ofMillis(250));
    }
    throw new AssertionError("node not ready in time:\n" + tail(dataDir.resolve("node.log")));
  }

  /** Waits up to {@code d} for the process to exit (a bounded poll step, not a settle delay). */
  private static void waitFor(Process p, Duration d) {
    try {
      p.waitFor(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static List<Accepted> sendSome(Ports ports, String from, String to, int n) {
    List<Accepted> accepted = new ArrayList<>();
    try (WsClient c = WsClient.connectAdmitted(URI.create("ws://127.0.0.1:" + ports.http() + "/v1/ws?access_token=" + Tokens.valid(from)))) {
      c.welcome();
      for (int i = 0; i < n; i++) {
        c.sendJson("{\"send\":{\"clientMsgId\":\"p" + System.nanoTime() + "\",\"to\":\"user:" + to + "\",\"text\":\"t" + i + "\"}}");
        accepted.add(c.expect(ServerFrame::hasAccepted, "accepted " + i).getAccepted());
      }
    }
    return accepted;
  }

  private static History inbox(Ports ports, String user) {
    try (WsClient c = WsClient.connectAdmitted(URI.create("ws://127.0.0.1:" + ports.http() + "/v1/ws?access_token=" + Tokens.valid(user)))) {
      c.welcome();
      c.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":0,\"limit\":500}}");
      return c.expect(ServerFrame::hasHistory, "history").getHistory();
    }
  }

  private static void assertSameItems(List<Accepted> accepted, History history) {
    assertEquals(accepted.size(), history.getItemsCount());
    for (int i = 0; i < accepted.size(); i++) {
      assertEquals(accepted.get(i).getSeq(), history.getItems(i).getMessage().getSeq());
      assertEquals(accepted.get(i).getMsgId(), history.getItems(i).getMessage().getMsgId());
    }
  }

  @Test
  void sigtermStopsNodeAndItsCassandraAndARestartHasEveryMessage() throws Exception {
    Path dataDir = Files.createTempDirectory(Path.of("target"), "proc-term").toAbsolutePath();
    Ports ports = Ports.free();
    Process node = startNode(dataDir, ports);
    List<Accepted> accepted = sendSome(ports, "term-alice", "term-bob", 10);

    node.destroy(); // SIGTERM
    assertTrue(node.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS), "node stopped after SIGTERM");
    assertFalse(listening(ports.cassandra()), "the embedded Cassandra stopped with its node");

    startNode(dataDir, ports);
    assertSameItems(accepted, inbox(ports, "term-alice"));
  }

  @Test
  void afterKillMinusNineTheCassandraChildExitsAndARestartHasEveryAcceptedMessage() throws Exception {
    Path dataDir = Files.createTempDirectory(Path.of("target"), "proc-kill").toAbsolutePath();
    Ports ports = Ports.free();
    Process node = startNode(dataDir, ports);
    List<Accepted> accepted = sendSome(ports, "kill-alice", "kill-bob", 10);

    List<ProcessHandle> children = node.descendants().toList();
    node.destroyForcibly(); // SIGKILL: no shutdown hook runs
    assertTrue(node.waitFor(STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS));
    for (ProcessHandle child : children) {
      assertTrue(
          child.onExit().toCompletableFuture().completeOnTimeout(null, STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS).get() != null
              || !child.isAlive(),
          "the embedded Cassandra exits when its parent is killed");
    }

    startNode(dataDir, ports);
    assertSameItems(accepted, inbox(ports, "kill-alice"));
  }

  private static boolean listening(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), (int) Duration.ofSeconds(1).toMillis());
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  static {
    new File("target").mkdirs();
  }
}
