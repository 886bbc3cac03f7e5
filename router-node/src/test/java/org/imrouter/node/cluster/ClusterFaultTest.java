package org.imrouter.node.cluster;

import org.imrouter.node.testkit.Await;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.imrouter.node.cluster.RouterCluster.Node;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.persist.InboxEvent;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Process-level faults, with real JVMs and a real three-node Cassandra ring (replication factor
 * 3, quorum reads and writes): clients on every router node send direct messages continuously
 * while a router node is killed with {@code kill -9}, a router node is frozen (SIGSTOP) until the
 * others replace it and then resumed, a router node joins (scale-out), a router node is drained
 * with SIGTERM, every router node is replaced in turn (a rolling restart), every Cassandra node
 * stands still (SIGSTOP) for half a minute, and a Cassandra node is killed with {@code kill -9}.
 * Hundreds of clients send at a steady rate throughout, each in runs of messages to one
 * recipient sent back to back. Clients of a lost node reconnect to the others and resend what
 * was not answered, with the same clientMsgId. After each fault the {@link StreamChecker} reads
 * every inbox: every message acknowledged with {@code accepted} is in its sender's and its
 * recipient's inbox exactly once, seqs are 1..N, each pair's messages in the order the sender
 * created them. A journal position written by two incarnations of one entity would show there:
 * the journal keeps one row per position (docs/decisions/0014). Each scenario prints one {@code FAULT-UNDER-LOAD} line: the
 * fault, clients, accepted messages a second, accepted, lost, duplicated, the longest pause; and
 * one {@code WARM-UP} line of how long the sends of its first seconds waited (the first
 * scenario's on a cold cluster).
 *
 * <p>One Cassandra ring and one router cluster serve all scenarios (starting them is most of the
 * run time); the scenarios run in order and each uses its own users. Each scenario starts router
 * nodes if fewer than it needs are running, so each also runs alone. The measured recovery times
 * are printed as {@code RECOVERY …} lines (target/surefire-reports/*-output.txt).
 *
 * <p>Router nodes run with the shipped defaults, so after a {@code kill -9} the survivors find
 * the node's cluster port refusing connections and down it themselves (docs/decisions/0016); the
 * down-removal margin then passes before its shards are allocated elsewhere (cluster.conf,
 * docs/decisions/0012).
 *
 * <p>Linux only, like the ops/cluster scripts: Cassandra nodes listen on 127.0.0.2 and 127.0.0.3.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterFaultTest {
  private static final int CASSANDRA_NODES = 3;
  private static final int CASSANDRA_HEAP_MB = 320;
  private static final String KEYSPACE = "cluster_fault";
  /**
   * Load: connected clients that send, spread evenly over the router nodes a scenario starts
   * with (70 a node on three, 105 on two). Hundreds, like the fleet of a small deployment, at a
   * pace this two-core machine carries beside three Cassandra nodes and three routers:
   * SENDERS x IN_A_ROW / SEND_INTERVAL = 42 messages a second, each two journal writes (sender
   * and recipient) at quorum on three replicas, with every commit log synced before it acknowledges.
   * 210 clients at 105 a second, all connecting at once, starved the routers so that the Split
   * Brain Resolver downed two of three before any fault (DownIndirectlyConnected, load average
   * 31); at 84 a second the machine was still saturated (accepted 61-79 a second) and faults
   * measured the overload as much as themselves. These tests are about faults; overload is
   * BENCHMARKS.md's.
   */
  private static final int SENDERS = 210;
  /**
   * The clients connect one after the other over this long, not all in one burst: a fleet that
   * comes online, not a reconnect storm (failover scenarios make those).
   */
  private static final Duration RAMP_UP = Duration.ofSeconds(10);
  /** users that only receive, each from many senders: their inboxes are the busiest entities */
  private static final int RECIPIENTS = 8;
  /** a client sends a run of IN_A_ROW messages every SEND_INTERVAL: 0.2 messages a second */
  private static final Duration SEND_INTERVAL = Duration.ofSeconds(10);
  /**
   * Each run goes to one recipient, back to back: the second send leaves while the first is
   * unanswered, so the order of a conversation is at stake in every hand-off.
   */
  private static final int IN_A_ROW = 2;
  /** a run in flight and one more: a resend never holds back the next run for long */
  private static final int WINDOW = 3;
  private static final int MAX_MESSAGES_PER_SENDER = 1_000;
  /**
   * accepted messages every client must have had before a fault, and after it: one run. At half
   * a message a second each more would only add seconds to every scenario.
   */
  private static final int WARM_ACKS = IN_A_ROW;
  private static final int RECOVERED_ACKS = IN_A_ROW;
  /** traffic keeps going at least this long after a fault before it stops and is checked */
  private static final Duration AFTER_FAULT = Duration.ofSeconds(5);
  private static final Duration TRAFFIC_TIMEOUT = Duration.ofSeconds(90);
  /**
   * The longest any client may go without an accepted message after a kill -9 of a router. The
   * survivors down the node on its refused cluster port 0.5-1 s after the kill and remove it at
   * once (decision 0016); then its shards are allocated and their entities recover while some 70
   * clients reconnect. 2.7-7.1 s here with this test's 210 clients, and 10.8 s in one full run on
   * a box slow enough that a starting node froze for 16 s (BENCHMARKS.md, "Failover after kill
   * -9: a gone process downed at once"); 8.5-13.7 s before decision 0016. The bound catches a
   * return to the old timings, not the issue's 10 s target, which this machine meets only when
   * it is not saturated; the log check after it catches the refused-port downing not working.
   */
  private static final Duration FAILOVER_BOUND = Duration.ofSeconds(20);
  /** generous: failover takes seconds (FAILOVER_BOUND); this only stops a stuck test */
  private static final Duration RECOVERY_TIMEOUT = Duration.ofSeconds(150);
  private static final Duration QUIET_TIMEOUT = Duration.ofSeconds(90);
  private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(90);
  /** Users whose journals a failed check prints: the first few named by its violations. */
  private static final int MAX_JOURNALS_PRINTED = 6;
  private static final Duration REBALANCE_TIMEOUT = Duration.ofSeconds(120);
  /** all of Cassandra unreachable this long: several circuit-breaker resets (3 s) and driver timeouts (4 s) */
  private static final Duration OUTAGE = Duration.ofSeconds(30);
  /**
   * Every send during the outage is answered within this. The session's ask timeout (5 s,
   * router.session.ask-timeout) bounds one send; a send queued behind an earlier one to the same
   * conversation (a run's second) goes out only once that one is answered, so it can wait two ask
   * timeouts, 10 s; the rest is margin for the busy machine. The slowest are the sends already on
   * their way when the outage began: at most 5.05 s (before StorageHealth, 9.05-9.53 s).
   */
  private static final Duration OUTAGE_ANSWER_BOUND = Duration.ofSeconds(12);
  /**
   * Half the sends during the outage are answered within this. Once the node's entities have
   * failed as many journal writes in a row as the journal's breaker needs, sessions refuse sends
   * at once (StorageHealth): median 0.01 s, 99th percentile 0.10 s. Before, every send waited out
   * the ask timeout in an entity's stash: median 5.02 s.
   */
  private static final Duration OUTAGE_MEDIAN_ANSWER_BOUND = Duration.ofSeconds(1);
  /**
   * After Cassandra resumes, every client has a message accepted within this. An entity whose
   * writes and recoveries failed throughout the outage restarts with a backoff that has grown to
   * its ceiling: 3 x router.entity.transfer-retry (2 s) = 6 s, plus up to 20 % at random
   * (EntityRestarts), so 7.2 s at worst, then recovers; the rest is margin for the busy
   * machine. With a ceiling of 20 s this took 16-34 s.
   */
  private static final Duration OUTAGE_RECOVERY_BOUND = Duration.ofSeconds(30);

  private static Path dir;
  private static CassandraRing ring;
  private static RouterCluster routers;
  private static final Map<String, String> results = Collections.synchronizedMap(new LinkedHashMap<>());
  private static long classStartNanos;

  @BeforeAll
  static void startClusters() throws Exception {
    classStartNanos = System.nanoTime();
    dir = Files.createDirectories(Path.of("target").toAbsolutePath().resolve("cluster-fault-" + ProcessHandle.current().pid()));
    ring = CassandraRing.start(dir, CASSANDRA_NODES, CASSANDRA_HEAP_MB);
    log("Cassandra ring of %d up at %s after %.1f s", CASSANDRA_NODES, ring.contactPoints(), secondsSince(classStartNanos));
    ring.createSchema(schemaScript(KEYSPACE));
    routers = new RouterCluster(dir, ring.contactPoints(), KEYSPACE);
    routers.start(); // forms the cluster
    ensureRouters(3); // the others join it
    log("router cluster of 3 up after %.1f s", secondsSince(classStartNanos));
  }

  @AfterAll
  static void stopClusters() {
    try {
      if (routers != null) {
        routers.close();
      }
    } finally {
      if (ring != null) {
        ring.close();
      }
    }
    results.forEach((scenario, line) -> System.out.println("SUMMARY " + scenario + ": " + line));
    log("ClusterFaultTest took %.1f s", secondsSince(classStartNanos));
  }

  // ------------------------------------------------------------------ scenarios

  @Test
  @Order(1)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void killMinusNineOfARouterNodeLosesNoAcceptedMessage() throws Exception {
    ensureRouters(3);
    try (Load load = Load.start("k9", routers.alive())) {
      load.awaitWarm();
      Node victim = routers.alive().get(1); // not the oldest: the coordinator stays where it is
      List<LoadClient> affected = load.clientsOn(victim);

      long fault = System.nanoTime();
      routers.kill(victim);
      log("killed %s (SIGKILL) with %d of its clients connected", victim, affected.size());

      load.awaitEachAcceptedAfter("every client served again after kill -9", fault, RECOVERED_ACKS, RECOVERY_TIMEOUT);
      load.keepGoing(AFTER_FAULT);
      load.finish();
      load.check("kill-9-router", fault);
      String recovery = load.recovery("kill-9 router", fault, affected);
      results.put("kill -9 router", recovery);
      // the survivors found the process gone and downed it themselves, without the resolver's wait
      String downed = victim.clusterAddress() + " refused";
      assertTrue(
          routers.alive().stream().anyMatch(n -> RouterCluster.logContains(n, downed)),
          "no survivor downed " + victim + " on its refused cluster port (DeadMemberDowning)");
      double pause = load.longestPauseSeconds(fault);
      assertTrue(pause < FAILOVER_BOUND.toMillis() / 1e3, "failover took " + pause + " s, not under " + FAILOVER_BOUND);
    }
  }

  /**
   * A node that stands still (SIGSTOP: a long GC pause, a starved or suspended VM) for longer
   * than failover takes is downed and its entities start on the others; when it runs again it
   * still has its old incarnations and its clients' sends waiting in its sockets. It must not
   * write a single event with them (MajorityFence), and every message its clients saw accepted
   * is in the inboxes the survivors serve.
   *
   * <p>A probe, run on demand ({@code -Drouter.test.freeze-probe=true}), not in every build: in
   * 2 of 7 runs with the journal's old key, writes the node had issued just before it froze
   * still reached Cassandra after their entities' successors had written the same seqs. Fencing
   * inside the process cannot stop a write already on its way out; the journal's key now makes
   * such a write lose to the successor's (docs/decisions/0014).
   */
  @Test
  @EnabledIfSystemProperty(named = "router.test.freeze-probe", matches = "true")
  @Order(2)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void aFrozenNodeThatRunsAgainWritesNothingBesideTheEntitiesThatReplacedIt() throws Exception {
    ensureRouters(3);
    try (Load load = Load.start("fz", routers.alive())) {
      load.awaitWarm();
      Node victim = routers.alive().get(1);
      Node survivor = routers.alive().get(0);
      List<LoadClient> others = load.clients.stream().filter(c -> !load.clientsOf(victim).contains(c)).toList();

      long fault = System.nanoTime();
      routers.freeze(victim);
      log("froze %s (SIGSTOP)", victim);
      routers.awaitRemoved(survivor, victim, RECOVERY_TIMEOUT);
      long removed = System.nanoTime();
      log("%s removed from the cluster %.1f s after it froze", victim, secondsSince(fault));
      // the frozen node's entities now live on the others, and have written since
      load.awaitEachAcceptedAfter("the other clients served by the entities that replaced the frozen node's", others, removed,
          RECOVERED_ACKS, RECOVERY_TIMEOUT);

      long thawed = System.nanoTime();
      routers.thaw(victim);
      routers.awaitExit(victim); // it finds itself downed, and leaves
      log("%s ran again and exited %.1f s later", victim, secondsSince(thawed));
      load.awaitEachAcceptedAfter("every client served again after the frozen node left", thawed, RECOVERED_ACKS, RECOVERY_TIMEOUT);
      load.finish();
      String line =
          String.format(
              Locale.ROOT,
              "removed %.1f s after it froze; the longest pause of the other nodes' clients %.1f s; %d accepted messages, %d resends",
              (removed - fault) / 1e9,
              others.stream().mapToLong(c -> c.longestWaitAfterNanos(fault)).max().orElse(0) / 1e9,
              load.acceptedTotal(),
              load.resends());
      System.out.println("RECOVERY frozen router: " + line);
      results.put("SIGSTOP router", line);
      load.check("sigstop-router", fault);
    }
  }

  @Test
  @Order(3)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void scaleOutMovesShardsToTheNewNodeWithoutFailingInFlightTraffic() throws Exception {
    ensureRouters(2);
    try (Load load = Load.start("so", routers.alive())) {
      load.awaitWarm();
      Set<String> before = new HashSet<>();
      for (Node n : routers.alive()) {
        before.addAll(routers.hostedShards(n, "User"));
      }

      long joinStarted = System.nanoTime();
      Node added = routers.start(); // mid-traffic
      double joined = secondsSince(joinStarted);
      Set<String> moved =
          routers.awaitHostedShards(
                  added, "User", hosted -> hosted.stream().anyMatch(before::contains),
                  "a shard that another node hosted to move to " + added, REBALANCE_TIMEOUT)
              .stream()
              .filter(before::contains)
              .collect(Collectors.toCollection(TreeSet::new));
      double movedAfter = secondsSince(joinStarted);
      load.keepGoing(AFTER_FAULT);
      load.finish();
      Set<String> hostedNow = routers.hostedShards(added, "User");
      String line =
          String.format(
              Locale.ROOT,
              "%s ready %.1f s after start; shards %s moved to it %.1f s after start (hosts %d User shards now); longest pause of any client %.1f s; %d accepted messages, %d resends",
              added,
              joined,
              moved,
              movedAfter,
              hostedNow.size(),
              load.longestPauseSeconds(joinStarted),
              load.acceptedTotal(),
              load.resends());
      System.out.println("SCALE-OUT " + line);
      results.put("scale-out", line);
      load.check("scale-out", joinStarted);
    }
  }

  @Test
  @Order(4)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void gracefulDrainWithSigtermLosesNoAcceptedMessage() throws Exception {
    ensureRouters(3);
    try (Load load = Load.start("dr", routers.alive())) {
      load.awaitWarm();
      Node drained = routers.alive().get(1);
      List<LoadClient> affected = load.clientsOn(drained);

      long fault = System.nanoTime();
      int exit = routers.terminate(drained); // returns once the JVM is gone
      log("%s drained and exited with %d after %.1f s", drained, exit, secondsSince(fault));

      load.awaitEachAcceptedAfter("every client served again after the drain", fault, RECOVERED_ACKS, RECOVERY_TIMEOUT);
      load.keepGoing(AFTER_FAULT);
      load.finish();
      load.check("sigterm-drain", fault);
      String recovery = load.recovery("SIGTERM drain", fault, affected);
      results.put("SIGTERM drain", recovery);
      for (LoadClient c : affected) {
        assertTrue(
            c.disconnects().stream().anyMatch(d -> d.why().equals("closed with 1001")),
            c.user + " was told to reconnect with close code 1001, saw " + c.disconnects());
      }
    }
  }

  /**
   * A deploy: every node in turn is drained (SIGTERM), a new one started in its place and, before
   * the next node goes, given shards (what ops/cluster/rolling-restart.sh and the Kubernetes
   * rollout do). Traffic flows throughout; nothing accepted is lost or stored twice.
   */
  @Test
  @Order(5)
  @Timeout(value = 8, unit = TimeUnit.MINUTES)
  void rollingRestartUnderLoadLosesAndDuplicatesNothing() throws Exception {
    ensureRouters(3);
    try (Load load = Load.start("rr", routers.alive())) {
      load.awaitWarm();
      long started = System.nanoTime();
      List<String> steps = new ArrayList<>();
      for (Node old : routers.alive()) {
        long step = System.nanoTime();
        routers.terminate(old);
        Node fresh = routers.start(); // ready, and every running node Up in its view
        double ready = secondsSince(step);
        routers.awaitHostedShards(fresh, "User", hosted -> !hosted.isEmpty(), fresh + " given shards", REBALANCE_TIMEOUT);
        steps.add(String.format(Locale.ROOT, "%s->%s ready %.1f s, shards %.1f s", old, fresh.id(), ready, secondsSince(step)));
        log("rolling restart: %s", steps.get(steps.size() - 1));
      }
      load.keepGoing(AFTER_FAULT);
      load.finish();
      String line =
          String.format(
              Locale.ROOT,
              "3 nodes replaced in %.1f s; longest pause of any client %.1f s; %d accepted messages, %d resends",
              secondsSince(started),
              load.longestPauseSeconds(started),
              load.acceptedTotal(),
              load.resends());
      System.out.println("ROLLING-RESTART " + line);
      results.put("rolling restart", line);
      load.check("rolling-restart", started);
    }
  }

  /**
   * All of Cassandra unreachable for {@link #OUTAGE}: every node of the ring stands still
   * (SIGSTOP) with its sockets open, which is worse for the routers than a refused connection,
   * since every request waits out its timeout. The node promises (StorageOutageTest, one node and
   * one client): sends are answered UNAVAILABLE, soon (journal request timeout, circuit breaker,
   * ask timeout), connections stay open, it serves again by itself once Cassandra is back, and a
   * retry with the same clientMsgId lands once. Here that is checked for hundreds of clients at
   * once, on three routers and a ring at quorum.
   */
  @Test
  @Order(6)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void allCassandraNodesUnreachableRefusesSendsKeepsConnectionsAndRecoversByItself() throws Exception {
    ensureRouters(3);
    try (Load load = Load.start("cu", routers.alive())) {
      load.awaitWarm();

      long fault = System.nanoTime();
      long resumed;
      try {
        for (int n = 1; n <= CASSANDRA_NODES; n++) {
          ring.freeze(n);
        }
        log("froze all %d Cassandra nodes (SIGSTOP)", CASSANDRA_NODES);
        load.awaitEachRefusedAfter("every client answered UNAVAILABLE while Cassandra is unreachable", fault, OUTAGE);
        // the outage's length is the fault itself, not a wait for something to settle
        Await.step(Duration.ofNanos(Math.max(0, fault + OUTAGE.toNanos() - System.nanoTime())));
      } finally {
        ring.resumeAll();
      }
      resumed = System.nanoTime();
      log("resumed all Cassandra nodes (SIGCONT) after %.1f s", (resumed - fault) / 1e9);

      load.awaitEachAcceptedAfter("every client served again after Cassandra resumed", resumed, RECOVERED_ACKS, RECOVERY_TIMEOUT);
      double servedAgain = load.allServedSeconds(resumed, 1);
      long allServed = resumed + (long) (servedAgain * 1e9);
      List<LoadClient.Refusal> refused =
          load.clients.stream().flatMap(c -> c.refusals().stream()).filter(r -> r.atNanos() > fault && r.atNanos() < resumed).toList();
      List<Double> answerSeconds = refused.stream().map(r -> r.answerNanos() / 1e9).sorted().toList();
      List<String> silent =
          load.clients.stream()
              .flatMap(c -> c.silences().stream().filter(x -> x.sentAtNanos() > fault && x.sentAtNanos() < resumed).map(x -> c.user + " " + x))
              .toList();
      List<String> dropped =
          load.clients.stream()
              .flatMap(c -> c.disconnects().stream().filter(d -> d.atNanos() > fault && d.atNanos() < allServed).map(d -> c.user + " " + d))
              .toList();
      load.keepGoing(AFTER_FAULT);
      load.finish();
      String line =
          String.format(
              Locale.ROOT,
              "%d answers during the %.0f s outage (%s), answered in median %.2f s, 99th percentile %.2f s, at most %.2f s; %d sends"
                  + " unanswered; %d connections lost; every client served again %.1f s after Cassandra resumed; longest wait of"
                  + " a message %.1f s; %d accepted messages, %d resends",
              refused.size(),
              (resumed - fault) / 1e9,
              refused.stream().collect(Collectors.groupingBy(LoadClient.Refusal::code, java.util.TreeMap::new, Collectors.counting())),
              percentile(answerSeconds, 0.5),
              percentile(answerSeconds, 0.99),
              percentile(answerSeconds, 1.0),
              silent.size(),
              dropped.size(),
              servedAgain,
              load.longestPauseSeconds(fault),
              load.acceptedTotal(),
              load.resends());
      System.out.println("RECOVERY all Cassandra unreachable: " + line);
      results.put("all Cassandra unreachable", line);
      // all of them, so that one failing does not hide the others
      assertAll(
          () -> assertTrue(
              percentile(answerSeconds, 1.0) < OUTAGE_ANSWER_BOUND.toMillis() / 1e3,
              "a send during the outage was answered after " + percentile(answerSeconds, 1.0) + " s, not within " + OUTAGE_ANSWER_BOUND),
          () -> assertTrue(
              percentile(answerSeconds, 0.5) < OUTAGE_MEDIAN_ANSWER_BOUND.toMillis() / 1e3,
              "sends during the outage were answered in median " + percentile(answerSeconds, 0.5) + " s, not within "
                  + OUTAGE_MEDIAN_ANSWER_BOUND),
          () -> assertEquals(List.of(), silent, "sends during the outage that got no answer within the client's answer timeout"),
          () -> assertEquals(List.of(), dropped, "connections lost from the outage until every client was served again"),
          () -> assertTrue(
              servedAgain < OUTAGE_RECOVERY_BOUND.toMillis() / 1e3,
              "every client served again " + servedAgain + " s after Cassandra resumed, not within " + OUTAGE_RECOVERY_BOUND),
          () -> load.check("cassandra-unreachable-30s", fault));
    }
  }

  @Test
  @Order(7)
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void killMinusNineOfOneOfThreeCassandraNodesLosesNoAcceptedMessage() throws Exception {
    ensureRouters(2);
    try (Load load = Load.start("ck", routers.alive())) {
      load.awaitWarm();
      int victim = CASSANDRA_NODES; // any node would do: all are seeds, none is special

      long fault = System.nanoTime();
      ring.kill(victim);
      log("killed Cassandra node %d (SIGKILL)", victim);
      assertFalse(ring.isAlive(victim));

      load.awaitEachAcceptedAfter("every client served with a Cassandra node down", fault, RECOVERED_ACKS, RECOVERY_TIMEOUT);
      load.keepGoing(AFTER_FAULT);
      load.finish();
      String line =
          String.format(
              Locale.ROOT,
              "quorum writes continued on 2 of 3 replicas; longest pause of any client %.1f s; every client had %d accepted messages %.1f s after the kill; %d accepted messages, %d resends",
              load.longestPauseSeconds(fault),
              RECOVERED_ACKS,
              load.allServedSeconds(fault, RECOVERED_ACKS),
              load.acceptedTotal(),
              load.resends());
      System.out.println("RECOVERY kill-9 cassandra node: " + line);
      results.put("kill -9 Cassandra node", line);
      load.check("kill-9-cassandra-node", fault);
    }
  }

  // ------------------------------------------------------------------ fixture

  private static void ensureRouters(int count) throws IOException {
    List<Node> launched = new ArrayList<>();
    int running = routers.alive().size();
    for (int i = running; i < count; i++) {
      launched.add(routers.launch());
    }
    for (Node n : launched) {
      routers.awaitUpOnFreePorts(n, count);
    }
  }

  /**
   * The production schema (ops/cassandra/schema.cql: replication factor 3) for this test's
   * keyspaces.
   */
  private static String schemaScript(String keyspace) throws IOException {
    Path script = Path.of("..", "ops", "cassandra", "schema.cql");
    String cql =
        Files.readString(script)
            .replaceAll("\\bim_router\\b", keyspace)
            .replaceAll("\\bim_router_snapshot\\b", keyspace + "_snapshot");
    assertTrue(cql.contains(keyspace + ".messages") && cql.contains(keyspace + "_snapshot.snapshots"), "schema script: " + script);
    return cql;
  }

  private static double secondsSince(long nanos) {
    return (System.nanoTime() - nanos) / 1e9;
  }

  /** The value below which {@code fraction} of the sorted {@code values} lie (0 when there are none). */
  private static double percentile(List<Double> sorted, double fraction) {
    if (sorted.isEmpty()) {
      return 0;
    }
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(fraction * sorted.size()) - 1));
  }

  private static void log(String format, Object... args) {
    System.out.println(String.format(Locale.ROOT, "[%6.1f s] ", secondsSince(classStartNanos)) + String.format(Locale.ROOT, format, args));
  }

  /**
   * The clients of one scenario: {@link #SENDERS} senders spread evenly over the router nodes,
   * each sending to senders on other nodes and to users that only receive.
   */
  private static final class Load implements AutoCloseable {
    final List<LoadClient> clients = new ArrayList<>();
    final Map<LoadClient, Node> home = new LinkedHashMap<>();
    final List<String> users = new ArrayList<>();
    final long startedAt = System.nanoTime();
    final String prefix;
    /** when every sent message had been answered (see {@link #finish}) */
    long finishedAt;

    private Load(String prefix) {
      this.prefix = prefix;
    }

    static Load start(String prefix, List<Node> nodes) {
      Load load = new Load(prefix);
      Supplier<List<String>> endpoints = () -> routers.alive().stream().map(Node::wsBase).toList();
      int perNode = SENDERS / nodes.size();
      List<String> senders = new ArrayList<>();
      for (int n = 0; n < nodes.size(); n++) {
        for (int i = 0; i < perNode; i++) {
          senders.add(prefix + "-n" + nodes.get(n).id() + "-" + i);
        }
      }
      List<String> recipients = new ArrayList<>();
      for (int r = 0; r < RECIPIENTS; r++) {
        recipients.add(prefix + "-r" + r);
      }
      load.users.addAll(senders);
      load.users.addAll(recipients);
      int m = senders.size();
      Duration startEach = RAMP_UP.dividedBy(m);
      for (int s = 0; s < m; s++) {
        // two senders homed on other nodes (the next ones round the list), and two receivers
        List<String> targets =
            List.of(
                senders.get((s + perNode) % m),
                recipients.get(s % RECIPIENTS),
                senders.get((s + perNode + 1) % m),
                recipients.get((s + m) % RECIPIENTS));
        int homeIndex = s / perNode;
        LoadClient c =
            new LoadClient(senders.get(s), targets, endpoints, homeIndex, SEND_INTERVAL, IN_A_ROW, WINDOW, MAX_MESSAGES_PER_SENDER);
        load.clients.add(c);
        load.home.put(c, nodes.get(homeIndex));
      }
      for (LoadClient c : load.clients) {
        c.start();
        Await.step(startEach); // pacing the load, see RAMP_UP
      }
      return load;
    }

    List<LoadClient> clientsOf(Node node) {
      return clients.stream().filter(c -> home.get(c).equals(node)).toList();
    }

    /**
     * The clients connected to {@code node} now: under load a client can have left its home
     * node before a fault (1001 "storage unavailable, reconnect" when its first registration
     * timed out) and be served elsewhere.
     */
    List<LoadClient> clientsOn(Node node) {
      return clients.stream().filter(c -> node.wsBase().equals(c.endpoint())).toList();
    }

    void awaitEachAcceptedAfter(String what, long afterNanos, int count, Duration timeout) {
      awaitEachAcceptedAfter(what, clients, afterNanos, count, timeout);
    }

    /**
     * Waits until every client has had its first run accepted, and prints how long the sends so
     * far waited, from when each was due until it was accepted: a {@code WARM-UP} line. The
     * first scenario's is a cold cluster's (routers just started, every entity new).
     */
    void awaitWarm() {
      awaitEachAcceptedAfter("traffic on every client", startedAt, WARM_ACKS, TRAFFIC_TIMEOUT);
      List<Double> waits =
          clients.stream().flatMap(c -> c.acks().stream()).map(a -> (a.atNanos() - a.dueAtNanos()) / 1e9).sorted().toList();
      System.out.printf(
          Locale.ROOT,
          "WARM-UP %s: %d clients, %d accepted in the first %.1f s; wait from due to accepted p50 %.2f s, p99 %.2f s, max %.2f s%n",
          prefix,
          clients.size(),
          waits.size(),
          secondsSince(startedAt),
          percentile(waits, 0.50),
          percentile(waits, 0.99),
          percentile(waits, 1.0));
    }

    void awaitEachAcceptedAfter(String what, List<LoadClient> some, long afterNanos, int count, Duration timeout) {
      Await.until(
          what,
          timeout,
          () -> some.stream().allMatch(c -> c.acceptedAfter(afterNanos) >= count),
          () -> some.stream()
              .map(c -> c.user + "=" + c.acceptedAfter(afterNanos) + "(pending " + c.pendingCount() + ", on " + c.endpoint() + ", "
                  + c.problems() + ")")
              .collect(Collectors.joining(", ")));
    }

    /** Waits until every client has had a send answered UNAVAILABLE after {@code afterNanos}. */
    void awaitEachRefusedAfter(String what, long afterNanos, Duration timeout) {
      Await.until(
          what,
          timeout,
          () -> clients.stream().allMatch(c -> refusedAfter(c, afterNanos)),
          () -> clients.stream()
              .filter(c -> !refusedAfter(c, afterNanos))
              .map(c -> c.user + "(pending " + c.pendingCount() + ", on " + c.endpoint() + ")")
              .collect(Collectors.joining(", ")));
    }

    private static boolean refusedAfter(LoadClient c, long afterNanos) {
      return c.refusals().stream().anyMatch(r -> r.atNanos() > afterNanos && r.code().equals("UNAVAILABLE"));
    }

    /**
     * Lets the traffic run for {@code d} more: waits until every client has had accepted
     * messages that arrived after {@code d} from now (so every client was served throughout).
     */
    void keepGoing(Duration d) {
      awaitEachAcceptedAfter("traffic for " + d + " more", System.nanoTime() + d.toNanos(), RECOVERED_ACKS, TRAFFIC_TIMEOUT.plus(d));
    }

    long acceptedTotal() {
      return clients.stream().mapToLong(c -> c.accepted().size()).sum();
    }

    long resends() {
      return clients.stream().mapToLong(LoadClient::resends).sum();
    }

    /** Stops new sends and waits until every sent message has been answered with accepted. */
    void finish() {
      clients.forEach(LoadClient::stopSending);
      Await.until(
          "every sent message accepted",
          QUIET_TIMEOUT,
          () -> clients.stream().allMatch(LoadClient::idle),
          () -> clients.stream().map(c -> c.user + " pending " + c.pendingCount()).collect(Collectors.joining(", ")));
      finishedAt = System.nanoTime();
    }

    /**
     * The longest any client was without service after {@code afterNanos}: the longest wait of a
     * message from when it was due until it was accepted ({@link LoadClient#longestWaitAfterNanos}).
     */
    double longestPauseSeconds(long afterNanos) {
      return clients.stream().mapToLong(c -> c.longestWaitAfterNanos(afterNanos)).max().orElse(0) / 1e9;
    }

    /** The longest gap between two accepted messages of a client, for comparison with the pause. */
    double longestGapSeconds(long afterNanos) {
      return clients.stream().mapToLong(c -> c.longestGapAfterNanos(afterNanos)).max().orElse(0) / 1e9;
    }

    /** Seconds after {@code faultNanos} by which every client had {@code count} more accepted. */
    double allServedSeconds(long faultNanos, int count) {
      long latest = 0;
      for (LoadClient c : clients) {
        List<Long> after = c.acks().stream().map(LoadClient.Ack::atNanos).filter(t -> t > faultNanos).sorted().toList();
        latest = Math.max(latest, after.get(count - 1) - faultNanos);
      }
      return latest / 1e9;
    }

    /** Prints and returns the recovery line of a scenario where a router node went away. */
    String recovery(String scenario, long faultNanos, List<LoadClient> affected) {
      List<Double> served = new ArrayList<>();
      for (LoadClient c : affected) {
        long t = c.servedAgainOnNewConnectionNanos(faultNanos);
        assertTrue(t >= 0, c.user + " was never served on a new connection; disconnects " + c.disconnects());
        served.add(t / 1e9);
      }
      Collections.sort(served);
      String line =
          String.format(
              Locale.ROOT,
              "clients served again after %.1f s (the longest pause in accepted messages of any client: also clients whose"
                  + " user entity lived on the lost node); the %d clients of the lost node reconnected to a survivor and got"
                  + " accepted after %.1f-%.1f s; %d accepted messages, %d resends",
              longestPauseSeconds(faultNanos),
              served.size(),
              served.get(0),
              served.get(served.size() - 1),
              acceptedTotal(),
              resends());
      System.out.println("RECOVERY " + scenario + ": " + line);
      return line;
    }

    /**
     * Reads every inbox of this scenario and checks it against every accepted message, prints the
     * scenario's {@code FAULT-UNDER-LOAD} line (what the checker found, whether it passes or not),
     * then fails on any violation.
     */
    void check(String fault, long faultNanos) {
      Supplier<List<String>> endpoints = () -> routers.alive().stream().map(Node::wsBase).toList();
      StreamChecker checker = new StreamChecker(clients, users, endpoints);
      long started = System.nanoTime();
      List<String> violations = checker.check(CHECK_TIMEOUT);
      log("[%s] checked %d inboxes holding %d accepted messages in %.1f s: %d violations", prefix, users.size(),
          checker.acceptedTotal(), secondsSince(started), violations.size());
      System.out.println(
          String.format(
              Locale.ROOT,
              "FAULT-UNDER-LOAD fault=%s clients=%d msgs_per_s=%.1f accepted=%d lost=%d duplicates=%d longest_pause_s=%.1f"
                  + " longest_gap_s=%.1f",
              fault,
              clients.size(),
              checker.acceptedTotal() / ((finishedAt - startedAt) / 1e9),
              checker.acceptedTotal(),
              checker.lost(),
              checker.duplicates(),
              longestPauseSeconds(faultNanos),
              longestGapSeconds(faultNanos)));
      // Two writers of one journal position (a stale write landing after the entity's successor
      // wrote) would show here as a message missing at its accepted seq or an extra one beside it:
      // the journal keeps one row per position, the later write (docs/decisions/0014).
      if (!violations.isEmpty()) {
        printJournals(violations);
      }
      assertEquals(List.of(), violations, "stream violations");
    }

    /**
     * Prints the journal rows (with write times) and snapshots of the users a violation names, so
     * that a failed run shows whether a message was never written, written and then replaced at
     * its position, or written where nobody reads it.
     */
    private void printJournals(List<String> violations) {
      Set<String> named = new TreeSet<>();
      for (String v : violations) {
        // a whole user name: k9-n1-1 must not match inside k9-n1-15
        users.stream().filter(u -> Pattern.compile("(?<![\\w-])" + Pattern.quote(u) + "(?![\\w-])").matcher(v).find()).forEach(named::add);
      }
      named.stream().limit(MAX_JOURNALS_PRINTED).forEach(user -> {
        String pid = UserEntity.persistenceId(user).id();
        try {
          for (CassandraRing.JournalRow row : ring.journal(KEYSPACE, pid)) {
            System.out.println("JOURNAL " + pid + " seq=" + row.seq() + " written=" + row.writtenMicros() + " " + describe(row.event()));
          }
          for (long[] snapshot : ring.snapshots(KEYSPACE + "_snapshot", pid)) {
            System.out.println("SNAPSHOT " + pid + " seq=" + snapshot[0] + " written=" + snapshot[1]);
          }
        } catch (RuntimeException e) {
          System.out.println("JOURNAL " + pid + " unreadable: " + e);
        }
      });
    }

    private static String describe(java.nio.ByteBuffer event) {
      try {
        InboxEvent e = InboxEvent.parseFrom(event.duplicate());
        return switch (e.getEventCase()) {
          case SENT -> "sent to=" + e.getSent().getPeer() + " counter=" + e.getSent().getCounter() + " text=" + e.getSent().getText()
              + " msgId=" + e.getSent().getMsgId();
          case RECEIVED -> "received from=" + e.getReceived().getPeer() + " counter=" + e.getReceived().getCounter() + " text="
              + e.getReceived().getText() + " msgId=" + e.getReceived().getMsgId();
          default -> e.getEventCase().toString();
        };
      } catch (com.google.protobuf.InvalidProtocolBufferException notAnInboxEvent) {
        return "undecodable (" + event.remaining() + " bytes)";
      }
    }

    @Override
    public void close() {
      clients.forEach(LoadClient::close);
    }
  }
}
