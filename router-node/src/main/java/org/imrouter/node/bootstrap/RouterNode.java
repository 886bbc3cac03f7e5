package org.imrouter.node.bootstrap;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.imrouter.node.cluster.DeadMemberDowning;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.delivery.Gateway;
import org.imrouter.node.delivery.NodeLoad;
import org.imrouter.node.delivery.ReconnectBackoff;
import org.imrouter.node.delivery.Session;
import org.imrouter.node.delivery.UserRateLimits;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.grpc.IngressService;
import org.imrouter.protocol.v1.IngressPowerApiHandlerFactory;
import org.imrouter.node.user.UserEntity;
import org.imrouter.node.ws.WebSocketRoute;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.persistence.JournalSchema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything a node runs on top of an actor system: cluster membership, the sharded entities,
 * the node's gateway and the WebSocket server, with a drain in coordinated shutdown (clients are
 * told to reconnect elsewhere before the shards are handed off).
 */
public final class RouterNode {
  private static final Logger log = LoggerFactory.getLogger(RouterNode.class);
  private static final Duration UNBIND_DEADLINE = Duration.ofSeconds(10);
  /**
   * Creating the dev/test schema: each statement waits for schema agreement, which a busy
   * three-node ring can take seconds to reach.
   */
  private static final Duration SCHEMA_TIMEOUT = Duration.ofSeconds(60);
  /** router.cluster.join values */
  public static final String JOIN_SELF = "self";
  public static final String JOIN_SEEDS = "seeds";
  public static final String JOIN_BOOTSTRAP = "bootstrap";

  private final CompletionStage<ServerBinding> binding;
  private final CompletionStage<ServerBinding> grpcBinding;
  private final WebSocketRoute route;

  private RouterNode(CompletionStage<ServerBinding> binding, CompletionStage<ServerBinding> grpcBinding, WebSocketRoute route) {
    this.binding = binding;
    this.grpcBinding = grpcBinding;
    this.route = route;
  }

  /** The gRPC ingress server. */
  public CompletionStage<ServerBinding> grpcBinding() {
    return grpcBinding;
  }

  public static RouterNode start(ActorSystem<?> system, RouterSettings settings) {
    if (!AsyncCompletions.sharedPoolInUse()) {
      log.warn(
          "The common ForkJoinPool has a parallelism below {}: every ask and future callback starts a thread."
              + " Start the JVM with -Djava.util.concurrent.ForkJoinPool.common.parallelism={}",
          AsyncCompletions.MIN_PARALLELISM,
          AsyncCompletions.MIN_PARALLELISM);
    }
    // before anything persists: the journal's tables get this project's key (JournalSchema)
    JournalSchema.prepare(system, SCHEMA_TIMEOUT);
    Cluster cluster = Cluster.get(system);
    boolean noSeeds = system.settings().config().getStringList("pekko.cluster.seed-nodes").isEmpty();
    if (settings.clusterJoin().equals(JOIN_SELF) && noSeeds) {
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
    }
    system.systemActorOf(DeadMemberDowning.create(system.settings().config()), "dead-member-downing", Props.empty());
    NodeLoad.get(system); // probes the dispatcher from now on
    ClusterSharding sharding = ClusterSharding.get(system);
    UserEntity.init(sharding, settings);
    GroupEntity.init(sharding, settings);
    HistoryReader history = new HistoryReader(system, settings.readJournal());
    ActorRef<Gateway.Command> gateway =
        system.systemActorOf(
            Gateway.create(
                sharding, settings.session().reregisterDelay(), history, settings.session().askTimeout(), settings.limits().syncMaxLimit()),
            "gateway",
            Props.empty());
    JwtVerifier jwt = new JwtVerifier(settings.jwt());
    Session.Deps deps =
        new Session.Deps(
            settings, sharding, gateway, history, UserRateLimits.fromSettings(settings.limits()), jwt, ReconnectBackoff.fromSettings(settings.http()));
    WebSocketRoute route = new WebSocketRoute(system, jwt, deps);

    CompletionStage<ServerBinding> binding =
        Http.get(system)
            .newServerAt(settings.http().host(), settings.http().port())
            .withSettings(WebSocketRoute.serverSettings(system, settings.http()))
            .bindFlow(route.handler())
            .thenApply(b -> b.addToCoordinatedShutdown(UNBIND_DEADLINE, system));
    binding.whenComplete(
        (b, failure) -> {
          if (failure != null) {
            log.error("WebSocket server could not bind {}:{}, stopping", settings.http().host(), settings.http().port(), failure);
            system.terminate();
          } else {
            log.info("WebSocket server listening on ws://{}:{}/v1/ws", b.localAddress().getHostString(), b.localAddress().getPort());
          }
        });

    IngressService ingress = new IngressService(system, sharding, settings, jwt, history);
    CompletionStage<ServerBinding> grpcBinding =
        Http.get(system)
            .newServerAt(settings.grpc().host(), settings.grpc().port())
            .bind(IngressPowerApiHandlerFactory.create(ingress, system))
            .thenApply(b -> b.addToCoordinatedShutdown(UNBIND_DEADLINE, system));
    grpcBinding.whenComplete(
        (b, failure) -> {
          if (failure != null) {
            log.error("gRPC ingress could not bind {}:{}, stopping", settings.grpc().host(), settings.grpc().port(), failure);
            system.terminate();
          } else {
            log.info("gRPC ingress listening on {}:{}", b.localAddress().getHostString(), b.localAddress().getPort());
          }
        });
    if (settings.grpc().devToken()) {
      log.warn("*** ROUTER_BACKEND_TOKEN is not set: the gRPC ingress accepts the DEVELOPMENT backend token. ***");
    }

    CoordinatedShutdown.get(system)
        .addTask(
            CoordinatedShutdown.PhaseServiceRequestsDone(),
            "drain-websockets",
            () -> drain(route, settings.session().drainTimeout(), system));
    return new RouterNode(binding, grpcBinding, route);
  }

  /** Tells every connected client to reconnect elsewhere and waits until they are gone. */
  private static CompletionStage<Done> drain(WebSocketRoute route, Duration timeout, ActorSystem<?> system) {
    log.info("draining {} WebSocket sessions", route.liveSessions().size());
    route.liveSessions().forEach(s -> s.tell(Session.Drain.INSTANCE));
    CompletableFuture<Done> done = new CompletableFuture<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    Duration poll = Duration.ofMillis(DRAIN_POLL_MILLIS);
    Runnable[] check = new Runnable[1];
    check[0] =
        () -> {
          if (route.liveSessions().isEmpty() || System.nanoTime() > deadline) {
            done.complete(Done.getInstance());
          } else {
            system.scheduler().scheduleOnce(poll, check[0], system.executionContext());
          }
        };
    check[0].run();
    return done;
  }

  private static final long DRAIN_POLL_MILLIS = 50;

  public CompletionStage<ServerBinding> binding() {
    return binding;
  }

  public WebSocketRoute route() {
    return route;
  }
}
