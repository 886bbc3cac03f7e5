package org.imrouter.node.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.imrouter.node.testkit.Await;
import org.imrouter.node.testkit.Tokens;

/**
 * Router nodes as operators run them: each one a child JVM started through the production main
 * class ({@code org.imrouter.node.bootstrap.Main}, behind {@link ChildOfTest}) with the test classpath, configured only through
 * its ROUTER_* environment, joining the others through seed nodes and writing to a shared
 * Cassandra ring at quorum. Nodes are stopped with SIGKILL ({@link #kill}) or SIGTERM ({@link
 * #terminate}); whatever is still running at {@link #close} is killed.
 */
final class RouterCluster implements AutoCloseable {
  /** JVM start, Artery join and the first Cassandra session on a busy two-core machine. */
  static final Duration START_TIMEOUT = Duration.ofSeconds(150);
  /** A drain: WebSockets closed, shards handed off, cluster left, JVM exit. */
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(90);
  private static final Duration HTTP_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration POLL = Duration.ofMillis(250);
  private static final String SYSTEM_NAME = "im-router";

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(HTTP_TIMEOUT).build();
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path dir;
  private final String cassandraContactPoints;
  private final String keyspace;
  private final List<Node> nodes = new CopyOnWriteArrayList<>();

  RouterCluster(Path dir, String cassandraContactPoints, String keyspace) {
    this.dir = dir;
    this.cassandraContactPoints = cassandraContactPoints;
    this.keyspace = keyspace;
  }

  /** System property of the test JVM: extra JVM options for every router node it starts. */
  static final String NODE_JVM_OPTIONS = "router.test.node-jvm-options";
  /** starts of one node when the ports picked for it were taken before it bound them */
  private static final int PORT_ATTEMPTS = 3;

  /** One router JVM and its ports, all on 127.0.0.1. */

  record Node(int id, int http, int grpc, int management, int metrics, int clusterPort, Process process, Path log) {
    URI ws(String user) {
      return URI.create(wsBase() + "?access_token=" + Tokens.valid(user));
    }

    String wsBase() {
      return "ws://127.0.0.1:" + http + "/v1/ws";
    }

    String clusterAddress() {
      return "pekko://" + SYSTEM_NAME + "@127.0.0.1:" + clusterPort;
    }

    boolean isAlive() {
      return process.isAlive();
    }

    URI management(String path) {
      return URI.create("http://127.0.0.1:" + management + path);
    }

    @Override
    public String toString() {
      return "router-" + id + " (ws " + http + ", management " + management + ", pid " + process.pid() + ")";
    }
  }

  List<Node> all() {
    return List.copyOf(nodes);
  }

  List<Node> alive() {
    return nodes.stream().filter(Node::isAlive).toList();
  }

  /**
   * Starts one node that joins the running ones (the first node forms the cluster) and waits
   * until it is ready and every running node is Up in its view.
   */
  Node start() throws IOException {
    int members = alive().size() + 1;
    return awaitUpOnFreePorts(launch(), members);
  }

  /** Starts one node that joins the running ones; returns at once (see {@link #awaitUp}). */
  Node launch() throws IOException {
    List<Node> running = alive();
    int id = nodes.size() + 1;
    int cluster = CassandraRing.freePort();
    String self = "pekko://" + SYSTEM_NAME + "@127.0.0.1:" + cluster;
    // the first node is its own (first) seed and forms the cluster; later nodes join a running one
    String seeds =
        running.isEmpty() ? self : running.stream().map(Node::clusterAddress).collect(Collectors.joining(","));
    Path log = dir.resolve("router-" + id + ".log");
    Files.createDirectories(dir);

    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx256m");
    URL logback = RouterCluster.class.getClassLoader().getResource("logback.xml");
    if (logback != null) {
      // the node's production logging (INFO, with cluster and sharding events), not the test one
      command.add("-Dlogback.configurationFile=" + logback);
    }
    // settings to try on every node without changing the shipped defaults, e.g. failure-detector
    // and Split Brain Resolver timings: -Drouter.test.node-jvm-options="-Dpekko.… -Dpekko.…"
    String extra = System.getProperty(NODE_JVM_OPTIONS, "").trim();
    if (!extra.isEmpty()) {
      command.addAll(List.of(extra.split("\\s+")));
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    // the production main class, behind a watchdog that ends the node if this JVM dies
    command.add(ChildOfTest.class.getName());
    ProcessBuilder pb = new ProcessBuilder(command);
    Map<String, String> env = pb.environment();
    env.put("ROUTER_BIND_HOST", "127.0.0.1");
    env.put("ROUTER_CLUSTER_HOST", "127.0.0.1");
    int http = CassandraRing.freePort();
    int grpc = CassandraRing.freePort();
    int management = CassandraRing.freePort();
    int metrics = CassandraRing.freePort();
    env.put("ROUTER_HTTP_PORT", String.valueOf(http));
    env.put("ROUTER_GRPC_PORT", String.valueOf(grpc));
    env.put("ROUTER_MANAGEMENT_PORT", String.valueOf(management));
    env.put("ROUTER_METRICS_PORT", String.valueOf(metrics));
    env.put("ROUTER_CLUSTER_PORT", String.valueOf(cluster));
    env.put("ROUTER_CLUSTER_JOIN", "seeds");
    env.put("ROUTER_SEED_NODES", seeds);
    env.put("ROUTER_CASSANDRA_CONTACT_POINTS", cassandraContactPoints);
    env.put("ROUTER_CASSANDRA_REPLICATION_FACTOR", "3");
    env.put("ROUTER_CASSANDRA_CONSISTENCY", "QUORUM");
    env.put("ROUTER_CASSANDRA_KEYSPACE", keyspace);
    env.put("ROUTER_CASSANDRA_SNAPSHOT_KEYSPACE", keyspace + "_snapshot");
    // the schema is created up front, like in production (see CassandraRing#createSchema)
    env.put("ROUTER_CASSANDRA_AUTOCREATE", "false");
    env.put("ROUTER_DATA_DIR", dir.resolve("router-" + id).toString());
    env.put("ROUTER_JWT_SECRET", Tokens.SECRET);
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Node node = new Node(id, http, grpc, management, metrics, cluster, pb.start(), log);
    nodes.add(node);
    return node;
  }

  /**
   * A port picked free for a node was taken by another process before the node bound it (the
   * test picks ports, then starts the JVM): that node will never be ready.
   */
  static final class PortTaken extends AssertionError {
    final Node node;

    PortTaken(Node node) {
      super(node + " could not bind one of its ports:\n" + tail(node.log()));
      this.node = node;
    }
  }

  private static boolean portTaken(Node node) {
    return logContains(node, "BindException");
  }

  /**
   * {@link #awaitUp}, starting the node again on new ports (up to {@link #PORT_ATTEMPTS} times)
   * when a port it was given was taken meanwhile; returns the node that came up.
   */
  Node awaitUpOnFreePorts(Node node, int members) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        awaitUp(node, members);
        return node;
      } catch (PortTaken taken) {
        if (attempt == PORT_ATTEMPTS) {
          throw taken;
        }
        node.process().destroyForcibly();
        waitFor(node.process(), STOP_TIMEOUT);
        node = launch();
      }
    }
  }

  /** Waits until {@code node} answers /ready and sees at least {@code members} members Up. */
  void awaitUp(Node node, int members) {
    HttpRequest ready = HttpRequest.newBuilder(node.management("/ready")).timeout(HTTP_TIMEOUT).build();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!node.isAlive()) {
        throw new AssertionError(node + " died at start:\n" + tail(node.log()));
      }
      if (portTaken(node)) {
        throw new PortTaken(node);
      }
      try {
        if (HTTP.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200 && membersUp(node).size() >= members) {
          return;
        }
      } catch (IOException | RuntimeException notYet) {
        // not listening yet, or not a member yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
      waitFor(node.process(), POLL);
    }
    throw new AssertionError(node + " not ready with " + members + " members Up in " + START_TIMEOUT + ":\n" + tail(node.log()));
  }

  /** The addresses of the members {@code node} sees Up (GET /cluster/members). */
  Set<String> membersUp(Node node) throws IOException, InterruptedException {
    JsonNode members = getJson(node, "/cluster/members").path("members");
    Set<String> up = new TreeSet<>();
    members.forEach(m -> {
      if ("Up".equals(m.path("status").asText())) {
        up.add(m.path("node").asText());
      }
    });
    return up;
  }

  /**
   * The shards of {@code entityType} that {@code node} hosts right now, from its shard region
   * (GET /cluster/shards/{type} of Pekko Management's cluster HTTP routes).
   */
  Set<String> hostedShards(Node node, String entityType) throws IOException, InterruptedException {
    Set<String> shards = new TreeSet<>();
    getJson(node, "/cluster/shards/" + entityType).path("regions").forEach(r -> shards.add(r.path("shardId").asText()));
    return shards;
  }

  /**
   * Waits until the shards of {@code entityType} that {@code node} hosts satisfy {@code condition}
   * (a node's region that does not answer yet counts as not satisfying it); returns them.
   */
  Set<String> awaitHostedShards(Node node, String entityType, Predicate<Set<String>> condition, String what, Duration timeout) {
    AtomicReference<Set<String>> last = new AtomicReference<>(Set.of());
    Await.until(
        what,
        timeout,
        () -> {
          try {
            last.set(hostedShards(node, entityType));
            return condition.test(last.get());
          } catch (IOException e) {
            return false;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
          }
        },
        () -> node + " hosts " + entityType + " shards " + last.get());
    return last.get();
  }

  private static JsonNode getJson(Node node, String path) throws IOException, InterruptedException {
    HttpResponse<String> response =
        HTTP.send(HttpRequest.newBuilder(node.management(path)).timeout(HTTP_TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IOException("GET " + path + " on " + node + ": " + response.statusCode() + " " + response.body());
    }
    return JSON.readTree(response.body());
  }

  /** SIGKILL: no shutdown hook, no drain, no leaving; the others must detect and down it. */
  void kill(Node node) {
    node.process().destroyForcibly();
    if (!waitFor(node.process(), STOP_TIMEOUT)) {
      throw new AssertionError(node + " still running after SIGKILL");
    }
  }

  /**
   * SIGSTOP: the JVM stands still with its sockets open, like a node in a long GC pause or
   * starved of CPU; the others must detect it, down it and move its shards.
   */
  void freeze(Node node) throws IOException, InterruptedException {
    signal(node, "STOP");
  }

  /** SIGCONT: a frozen node runs again, at first unaware of what the cluster decided meanwhile. */
  void thaw(Node node) throws IOException, InterruptedException {
    signal(node, "CONT");
  }

  private static void signal(Node node, String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(node.process().pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new AssertionError("kill -" + signal + " " + node + " failed");
    }
  }

  /** Waits until {@code survivor} no longer lists {@code gone} among the cluster's members. */
  void awaitRemoved(Node survivor, Node gone, Duration timeout) {
    Await.until(
        gone + " removed from the cluster in the view of " + survivor,
        timeout,
        () -> {
          try {
            return !getJson(survivor, "/cluster/members").toString().contains(gone.clusterAddress());
          } catch (IOException e) {
            return false;
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
          }
        },
        () -> survivor + " still lists " + gone);
  }

  /** Waits until a node's JVM has exited by itself. */
  void awaitExit(Node node) {
    if (!waitFor(node.process(), STOP_TIMEOUT)) {
      throw new AssertionError(node + " did not exit within " + STOP_TIMEOUT + ":\n" + tail(node.log()));
    }
  }

  /** SIGTERM and the node's graceful drain; returns once the JVM exited. */
  int terminate(Node node) {
    // the handle's destroy() is only the signal; Process.destroy() would also close the node's
    // stdin, which ChildOfTest takes for this JVM's death
    node.process().toHandle().destroy();
    if (!waitFor(node.process(), STOP_TIMEOUT)) {
      throw new AssertionError(node + " did not exit within " + STOP_TIMEOUT + " of SIGTERM:\n" + tail(node.log()));
    }
    return node.process().exitValue();
  }

  @Override
  public void close() {
    nodes.forEach(n -> n.process().destroyForcibly());
    nodes.forEach(n -> waitFor(n.process(), STOP_TIMEOUT));
  }

  /** Waits up to {@code d} for the process to exit (a bounded poll step); true if it has. */
  static boolean waitFor(Process p, Duration d) {
    try {
      return p.waitFor(d.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Whether {@code node}'s log has {@code text} (false while it cannot be read: look again later). */
  static boolean logContains(Node node, String text) {
    try {
      return Files.exists(node.log()) && Files.readString(node.log()).contains(text);
    } catch (IOException | UncheckedIOException e) {
      return false;
    }
  }

  static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException | UncheckedIOException e) {
      return "(no log: " + e + ")";
    }
  }
}
