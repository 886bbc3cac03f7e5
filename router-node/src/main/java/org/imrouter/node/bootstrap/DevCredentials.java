package org.imrouter.node.bootstrap;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.imrouter.node.config.RouterSettings;

/**
 * The development JWT secret and backend token are public: they are in {@code application.conf}.
 * A node that other hosts can reach while using either would let anyone mint client tokens, or
 * act as any user and read every stream, so it refuses to start. On a loopback address (the
 * default, and the local cluster's 127.0.0.n) they are allowed, with a warning.
 */
public final class DevCredentials {
  private DevCredentials() {}

  /** Why the node must not start with these settings; empty when it may. */
  public static List<String> refusals(RouterSettings settings) {
    List<String> refusals = new ArrayList<>();
    boolean devJwt = settings.jwt().devSecret() && settings.jwt().algorithm().equals("HS256");
    if (devJwt && !isLoopback(settings.http().host())) {
      refusals.add(
          "the WebSocket listener binds " + settings.http().host()
              + " with the development JWT secret: set ROUTER_JWT_SECRET (or ROUTER_JWT_ALGORITHM=RS256 with ROUTER_JWT_PUBLIC_KEY)");
    }
    // backend JWTs on the ingress are signed like client tokens
    if (devJwt && settings.grpc().jwtBackends() && !isLoopback(settings.grpc().host())) {
      refusals.add(
          "the gRPC ingress binds " + settings.grpc().host()
              + " and accepts backend JWTs signed with the development secret: set ROUTER_JWT_SECRET, or router.grpc.jwt-backends = off");
    }
    if (settings.grpc().devToken() && !isLoopback(settings.grpc().host())) {
      refusals.add(
          "the gRPC ingress binds " + settings.grpc().host() + " with the development backend token: set ROUTER_BACKEND_TOKEN");
    }
    return refusals;
  }

  /** Loopback only: a wildcard (0.0.0.0, ::) or an address that does not resolve counts as reachable. */
  static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }
}
