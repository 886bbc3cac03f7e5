package org.imrouter.node.ws;

import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.imrouter.node.config.RouterSettings;
import scala.concurrent.duration.FiniteDuration;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.delivery.Session;

/**
 * {@code GET /v1/ws}: checks the JWT before the upgrade (HTTP 401 and no WebSocket when it is
 * missing, malformed, badly signed or expired), then wires the connection to a new
 * {@link Session}: incoming messages are decoded with backpressure (one at a time, acked by the
 * session), outgoing frames go through a bounded buffer that closes the connection when a slow
 * client lets it overflow.
 */
public final class WebSocketRoute extends AllDirectives {
  private static final String BEARER = "Bearer ";
  /** RFC 7235: a 401 must carry a challenge saying how to authenticate. */
  private static final WWWAuthenticate CHALLENGE = WWWAuthenticate.create(HttpChallenge.createOAuth2("im-router"));

  private final ActorSystem<?> system;
  private final JwtVerifier jwt;
  private final Session.Deps deps;
  private final FrameCodec codec;
  private final ClosingWebSocket.KeepAlive keepAlive;
  private final Set<ActorRef<Session.Command>> live = ConcurrentHashMap.newKeySet();

  public WebSocketRoute(ActorSystem<?> system, JwtVerifier jwt, Session.Deps deps) {
    this.system = system;
    this.jwt = jwt;
    this.deps = deps;
    this.codec =
        new FrameCodec(
            deps.settings().limits().maxFrameBytes(), deps.settings().session().askTimeout(), Materializer.matFromSystem(system));
    this.keepAlive =
        new ClosingWebSocket.KeepAlive(deps.settings().http().keepAliveInterval(), deps.settings().http().deadPeerTimeout());
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
                                          Optional<String> user = jwt.verify(token(header, query));
                                          if (user.isEmpty()) {
                                            return respondWithHeader(
                                                CHALLENGE,
                                                () -> complete(StatusCodes.UNAUTHORIZED, "missing, invalid or expired token"));
                                          }
                                          boolean binary = encoding.map("binary"::equals).orElse(false);
                                          return extractWebSocketUpgrade(
                                              upgrade ->
                                                  complete(
                                                      ClosingWebSocket.handle(
                                                          upgrade, closer -> connection(user.get(), binary, closer), keepAlive, system)));
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

  private Flow<Message, Message, NotUsed> connection(
      String userId, boolean binary, java.util.function.BiConsumer<Integer, String> closer) {
    Pair<ActorRef<Session.Out>, Source<Session.Out, NotUsed>> out =
        ActorSource.<Session.Out>actorRef(
                o -> {
                  // completes after the frames already buffered, then closes with the code
                  if (o instanceof Session.OutClose close) {
                    closer.accept(close.code(), close.reason());
                    return true;
                  }
                  return false;
                },
                o -> Optional.empty(),
                deps.settings().limits().outboundBuffer(),
                OverflowStrategy.fail())
            .preMaterialize(system);
    String sessionId = UUID.randomUUID().toString();
    ActorRef<Session.Command> session =
        system.systemActorOf(Session.create(userId, sessionId, out.first(), deps, binary), "session-" + sessionId, Props.empty());
    live.add(session);
    Sink<Session.Command, NotUsed> in =
        Flow.<Session.Command>create()
            .to(
                ActorSink.actorRefWithBackpressure(
                    session,
                    Session.Incoming::new,
                    Session.StreamStarted::new,
                    Session.Ack.INSTANCE,
                    Session.ClientGone.INSTANCE,
                    failure -> Session.ClientGone.INSTANCE));
    Sink<Message, NotUsed> decoded = Flow.<Message>create().mapAsync(1, codec::decode).to(in);
    Source<Message, NotUsed> encoded =
        out.second()
            .filter(o -> o instanceof Session.OutFrame)
            .map(o -> FrameCodec.encode(((Session.OutFrame) o).frame(), ((Session.OutFrame) o).binary()))
            .watchTermination(
                (mat, done) -> {
                  done.whenComplete((ok, failure) -> live.remove(session));
                  return mat;
                });
    return Flow.fromSinkAndSourceCoupled(decoded, encoded);
  }
}
