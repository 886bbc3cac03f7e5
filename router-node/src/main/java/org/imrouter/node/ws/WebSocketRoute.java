package org.imrouter.node.ws;

import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.stream.javadsl.Flow;
import org.imrouter.node.config.RouterSettings;
import scala.concurrent.duration.FiniteDuration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.delivery.NodeLoad;
import org.imrouter.node.delivery.Session;

/**
 * {@code GET /v1/ws}: checks the JWT before the upgrade (HTTP 401 and no WebSocket when it is
 * missing, malformed, badly signed or expired; a connection still without its upgrade after the
 * pre-auth deadline is closed, see {@link PreAuthGuard}), then serves the connection with a {@link
 * SessionStage} and a new {@link Session}: incoming messages are decoded with backpressure (one
 * at a time, acked by the session), outgoing frames go through a bounded buffer that closes the
 * connection when a slow client lets it overflow. New sessions beyond the node's admission rate
 * are refused with 503 before any of that ({@link SessionAdmission}).
 */
public final class WebSocketRoute extends AllDirectives {
  private static final String BEARER = "Bearer ";
  /** RFC 7235: a 401 must carry a challenge saying how to authenticate. */
  private static final WWWAuthenticate CHALLENGE = WWWAuthenticate.create(HttpChallenge.createOAuth2("im-router"));

  private final ActorSystem<?> system;
  private final JwtVerifier jwt;
  private final Session.Deps deps;
  private final ClosingWebSocket webSocket;
  private final PreAuthGuard preAuth;
  private final SessionAdmission admission;
  private final Set<ActorRef<Session.Command>> live = ConcurrentHashMap.newKeySet();

  public WebSocketRoute(ActorSystem<?> system, JwtVerifier jwt, Session.Deps deps) {
    this.system = system;
    this.jwt = jwt;
    this.deps = deps;
    RouterSettings.Limits limits = deps.settings().limits();
    SessionStage.Settings stageSettings =
        new SessionStage.Settings(
            limits.maxFrameBytes(),
            limits.outboundBuffer(),
            limits.outboundBufferBytes(),
            deps.settings().http().keepAliveInterval(),
            ClosingWebSocket.CLOSE_TIMEOUT,
            limits.messageReadTimeout());
    this.webSocket =
        new ClosingWebSocket(
            system, deps.settings().http().deadPeerTimeout(), new SessionStage(stageSettings));
    this.preAuth = new PreAuthGuard(deps.settings().http().preAuthTimeout(), deps.settings().http().preAuthConnections());
    this.admission = new SessionAdmission(deps.settings().http().sessionAdmission(), deps.reconnectBackoff(), NodeLoad.get(system));
  }

  /**
   * What serves each connection of the WebSocket port: the route, behind the pre-auth deadline and
   * cap ({@link PreAuthGuard}). One blueprint, materialized by Pekko HTTP per connection at accept.
   */
  public Flow<HttpRequest, HttpResponse, NotUsed> handler() {
    return route().flow(system).via(preAuth);
  }

  public Route route() {
    return path(
        PathMatchers.segment("v1").slash("ws"),
        () ->
            get(
                () ->
                    optionalHeaderValueByName(
                        "Authorization",
                        header ->
                            parameterOptional(
                                "access_token",
                                query ->
                                    parameterOptional(
                                        "encoding",
                                        encoding -> {
                                          Optional<JwtVerifier.ClientToken> user = jwt.verify(token(header, query));
                                          if (user.isEmpty()) {
                                            return respondWithHeader(
                                                CHALLENGE,
                                                () -> complete(StatusCodes.UNAUTHORIZED, "missing, invalid or expired token"));
                                          }
                                          boolean binary = encoding.map("binary"::equals).orElse(false);
                                          // admitted only once it is a valid upgrade with a valid
                                          // token: nothing else may spend the node's admissions
                                          return extractWebSocketUpgrade(
                                              upgrade ->
                                                  complete(
                                                      admission
                                                          .refusal()
                                                          .orElseGet(() -> webSocket.handle(upgrade, connection(user.get(), binary)))));
                                        })))));
  }

  private static String token(Optional<String> header, Optional<String> query) {
    if (header.isPresent() && header.get().startsWith(BEARER)) {
      return header.get().substring(BEARER.length()).trim();
    }
    return query.orElse("");
  }

  /**
   * The HTTP server settings of the WebSocket port: the connection cap, backlog and idle timeout
   * of router.http (the gRPC port keeps its own).
   */
  public static ServerSettings serverSettings(ActorSystem<?> system, RouterSettings.Http http) {
    ServerSettings defaults = ServerSettings.create(system.settings().config());
    return defaults
        // HTTP/2 is for the gRPC port; here it would only add protocol-detection stages to every
        // connection (heap per idle session, BENCHMARKS.md)
        .withEnableHttp2(false)
        .withPreviewServerSettings(defaults.getPreviewServerSettings().withEnableHttp2(false))
        .withMaxConnections(http.maxConnections())
        .withBacklog(http.backlog())
        .withTimeouts(defaults.getTimeouts().withIdleTimeout(FiniteDuration.create(http.idleTimeout().toMillis(), TimeUnit.MILLISECONDS)));
  }

  /** Sessions of this node that are still connected (for drain). */
  public Set<ActorRef<Session.Command>> liveSessions() {
    return live;
  }

  /** How the connection's stage starts its session (with the stage as the session's output). */
  private SessionStage.Connector connection(JwtVerifier.ClientToken token, boolean binary) {
    return new SessionStage.Connector() {
          @Override
          public ActorRef<Session.Command> start(ActorRef<Session.Out> out) {
            String sessionId = UUID.randomUUID().toString();
            ActorRef<Session.Command> session =
                system.systemActorOf(Session.create(token, sessionId, out, deps, binary), "session-" + sessionId, Props.empty());
            live.add(session);
            return session;
          }

          @Override
          public void ended(ActorRef<Session.Command> session) {
            live.remove(session);
          }
        };
  }
}
