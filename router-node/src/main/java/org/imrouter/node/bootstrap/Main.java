package org.imrouter.node.bootstrap;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import kamon.Kamon;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts one router node: the embedded Cassandra when no contact points are configured, then the
 * actor system, the node and Pekko Management. Any failure to start ends the JVM with a non-zero
 * status instead of leaving a half-started node.
 */
public final class Main {
  static {
    AsyncCompletions.useSharedPool(); // first of all: before anything loads the common pool
  }

  private static final Logger log = LoggerFactory.getLogger(Main.class);
  private static final String SYSTEM_NAME = "im-router";

  private Main() {}

  public static void main(String[] args) {
    try {
      run();
    } catch (Throwable t) {
      log.error("router node failed to start", t);
      System.exit(1);
    }
  }

  private static void run() throws Exception {
    Config config = ConfigFactory.load();
    RouterSettings settings = RouterSettings.fromConfig(config);
    List<String> refusals = DevCredentials.refusals(settings);
    if (!refusals.isEmpty()) {
      throw new IllegalStateException("refusing to start: " + String.join("; ", refusals));
    }
    if (settings.jwt().devSecret() && settings.jwt().algorithm().equals("HS256")) {
      log.warn("*** ROUTER_JWT_SECRET is not set: using the DEVELOPMENT JWT secret. Anyone can mint tokens. ***");
    }

    EmbeddedCassandra embedded = null;
    String contactPoints = settings.cassandra().contactPoints();
    if (contactPoints.isEmpty()) {
      EmbeddedCassandra.Settings embeddedSettings = embeddedSettings(settings.cassandra());
      log.info("no ROUTER_CASSANDRA_CONTACT_POINTS: starting the embedded Cassandra in {}", embeddedSettings.dataDir());
      if (!embeddedSettings.commitLogSync().syncsBeforeAcknowledging()) {
        log.warn(
            "embedded Cassandra commit-log sync is {}: the messages accepted since the last sync are lost on a host"
                + " crash or power loss (router.cassandra.embedded.commitlog-sync)",
            embeddedSettings.commitLogSync());
      }
      embedded = EmbeddedCassandra.start(embeddedSettings);
      embedded.awaitReady(settings.cassandra().startTimeout());
      contactPoints = embedded.contactPoint();
      log.info("embedded Cassandra ready at {}", contactPoints);
    }
    config = withContactPoints(config, contactPoints);
    String seeds = System.getenv("ROUTER_SEED_NODES");
    if (seeds != null && !seeds.isBlank()) {
      config =
          ConfigFactory.empty()
              .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(split(seeds)))
              .withFallback(config);
    }

    Kamon.init(config); // metrics exporter on router.metrics.port
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), SYSTEM_NAME, config);
    EmbeddedCassandra cassandra = embedded;
    system.getWhenTerminated().thenRun(() -> {
      Kamon.stop();
      if (cassandra != null) {
        cassandra.close(); // after the journal's last write
      }
    });
    RouterNode.start(system, settings);
    PekkoManagement.get(system).start();
    switch (settings.clusterJoin()) {
      case RouterNode.JOIN_BOOTSTRAP -> ClusterBootstrap.get(system).start();
      case RouterNode.JOIN_SEEDS, RouterNode.JOIN_SELF -> {} // seeds: Pekko joins them by itself
      default -> throw new IllegalArgumentException("router.cluster.join must be self, seeds or bootstrap");
    }
  }

  /** The embedded server of the run command: a reused directory, so durable start-up and commit log. */
  static EmbeddedCassandra.Settings embeddedSettings(RouterSettings.Cassandra c) {
    Path dataDir = Path.of(c.dataDir()).toAbsolutePath().resolve("cassandra");
    return EmbeddedCassandra.Settings.forRun(dataDir, c.port(), c.storagePort())
        .withHeapMb(c.heapMb())
        .withCommitLogSync(c.commitLogSync());
  }

  private static List<String> split(String csv) {
    return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
  }

  private static Config withContactPoints(Config config, String contactPoints) {
    List<String> points = split(contactPoints);
    return ConfigFactory.empty()
        .withValue("datastax-java-driver.basic.contact-points", ConfigValueFactory.fromIterable(points))
        .withFallback(config);
  }
}
