package org.imrouter.node.testkit;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.imrouter.node.bootstrap.RouterNode;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.persistence.embedded.EmbeddedCassandra;

/**
 * A real router node for end-to-end tests: its own actor system and WebSocket server on a free
 * port, persisting to the build's shared real Cassandra in keyspaces of its own, so test classes
 * never see each other's data. {@link #restart()} starts a new node on the same keyspaces, as a
 * process restart would.
 */
public final class RouterTestNode implements AutoCloseable {
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  /** The token of the node's default backend (may act as anyone, read everything). */
  public static final String BACKEND_TOKEN = "test-backend-token";

  private static final String CONTACT_POINTS = "datastax-java-driver.basic.contact-points";

  private final String keyspace;
  private final Map<String, Object> overrides;
  private ActorSystem<Void> system;
  private int port;
  private int grpcPort;

  public RouterTestNode(String name) {
    this(name, Map.of());
  }

  /** @param overrides extra config, e.g. limits for one test class */
  public RouterTestNode(String name, Map<String, Object> overrides) {
    this.keyspace = name.toLowerCase().replaceAll("[^a-z0-9_]", "_");
    this.overrides = overrides;
    start();
  }

  public Config config() {
    // a test that brings its own Cassandra names it in the overrides; the others share the build's
    String contactPoint =
        overrides.containsKey(CONTACT_POINTS) ? "unused" : EmbeddedCassandra.sharedForTests().contactPoint();
    // layered under system properties and over application.conf before anything is resolved, as
    // ConfigFactory.load() layers them, so that a setting derived from another in application.conf
    // (router.session.max-unanswered-sends from router.limits.send-burst) follows the test's value
    return ConfigFactory.load(ConfigFactory.parseMap(overrides)
        .withFallback(
            ConfigFactory.parseString(
                String.join(
                    "\n",
                    "router.http.port = 0",
                    "router.grpc.port = 0",
                    "router.grpc.default-token = \"" + BACKEND_TOKEN + "\"",
                    "router.jwt.secret = \"" + Tokens.SECRET + "\"",
                    "pekko.remote.artery.canonical.port = 0",
                    "pekko.coordinated-shutdown.exit-jvm = off",
                    "pekko.cluster.jmx.multi-mbeans-in-same-jvm = on",
                    // tests connect right after the node starts, when its cold dispatcher can
                    // lag past shed-lag: only LoadSheddingTest sheds new sessions
                    "router.load-shedding.enabled = off",
                    // tests page, mark and create at machine speed: only RateLimitTest (and tests
                    // that say so) run with the per-user rates of production
                    "router.limits.syncs-per-second = 10000",
                    "router.limits.sync-burst = 10000",
                    "router.limits.reads-per-second = 10000",
                    "router.limits.read-burst = 10000",
                    "router.limits.typing-per-second = 10000",
                    "router.limits.typing-burst = 10000",
                    "router.limits.group-ops-per-second = 10000",
                    "router.limits.group-op-burst = 10000",
                    "pekko.persistence.cassandra.journal.keyspace = " + keyspace,
                    "pekko.persistence.cassandra.snapshot.keyspace = " + keyspace + "_snap",
                    "datastax-java-driver.basic.contact-points = [\"" + contactPoint + "\"]")))
        .withFallback(ConfigFactory.defaultApplication()));
  }

  private void start() {
    Config config = config();
    system = ActorSystem.create(Behaviors.empty(), "router-test", config);
    RouterNode node = RouterNode.start(system, RouterSettings.fromConfig(config));
    try {
      port = node.binding().toCompletableFuture().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS).localAddress().getPort();
      grpcPort = node.grpcBinding().toCompletableFuture().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS).localAddress().getPort();
    } catch (Exception e) {
      throw new IllegalStateException("test node did not bind", e);
    }
  }

  /** A WebSocket client of {@code user} on this node, once it has its welcome. */
  public WsClient welcomed(String user) {
    WsClient c = WsClient.connect(wsUri(Tokens.valid(user)));
    c.welcome();
    return c;
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public URI wsUri(String token) {
    return URI.create("ws://127.0.0.1:" + port + "/v1/ws" + (token == null ? "" : "?access_token=" + token));
  }

  /** This node's cluster address, for other nodes' seed-nodes. */
  public String clusterAddress() {
    return org.apache.pekko.cluster.typed.Cluster.get(system).selfMember().address().toString();
  }

  public int port() {
    return port;
  }

  /** The gRPC ingress port. */
  public int grpcPort() {
    return grpcPort;
  }

  /** Stops this node (drained, as on SIGTERM) and starts a new one on the same data. */
  public void restart() {
    stop();
    start();
  }

  public void stop() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("test node did not stop", e);
    }
  }

  @Override
  public void close() {
    stop();
  }
}
