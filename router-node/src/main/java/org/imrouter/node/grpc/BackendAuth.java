package org.imrouter.node.grpc;

import com.auth0.jwt.interfaces.Claim;
import com.auth0.jwt.interfaces.DecodedJWT;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.Ids;

/**
 * Authenticates backends from the {@code authorization: Bearer …} metadata: a configured token
 * (only its SHA-256 is configured) or a JWT with the "backend" scope. A backend may act only as
 * the identities, read only the streams and manage only the groups that its patterns allow.
 */
final class BackendAuth {
  static final String WILDCARD = "*";
  private static final String BEARER = "Bearer ";
  private static final String SCOPE_CLAIM = "scope";
  private static final String BACKEND_SCOPE = "backend";
  private static final String ACT_AS_CLAIM = "act_as";
  private static final String MAY_READ_CLAIM = "may_read";
  private static final String MAY_MANAGE_CLAIM = "may_manage";
  private static final String JWT_NAME_PREFIX = "jwt:";
  /** What the default backend (ROUTER_BACKEND_TOKEN) may do: everything. */
  private static final List<String> EVERY_IDENTITY = List.of("user:*", "system:*");
  private static final List<String> EVERY_STREAM = List.of("inbox:*", "group:*");
  private static final List<String> EVERY_GROUP = List.of("group:*");

  /** An authenticated backend and what it may do. */
  record Backend(String name, List<String> mayActAs, List<String> mayRead, List<String> mayManage) {
    /** {@code identity} is "user:X" or "system:N". */
    boolean mayActAs(String identity) {
      return matches(mayActAs, identity);
    }

    /** {@code stream} is "inbox:U" or "group:G". */
    boolean mayRead(String stream) {
      return matches(mayRead, stream);
    }

    /** Whether its system senders may post in, and manage, {@code group} ("group:G"). */
    boolean mayManage(String group) {
      return matches(mayManage, group);
    }

    private static boolean matches(List<String> patterns, String value) {
      for (String p : patterns) {
        if (p.equals(value) || p.endsWith(WILDCARD) && value.startsWith(p.substring(0, p.length() - 1))) {
          return true;
        }
      }
      return false;
    }
  }

  private final Map<String, Backend> byTokenHash = new HashMap<>();
  private final JwtVerifier jwt;
  private final boolean jwtBackends;

  BackendAuth(RouterSettings.Grpc settings, JwtVerifier jwt) {
    this.jwt = jwt;
    this.jwtBackends = settings.jwtBackends();
    if (!settings.defaultToken().isEmpty()) {
      byTokenHash.put(sha256(settings.defaultToken()), new Backend("default", EVERY_IDENTITY, EVERY_STREAM, EVERY_GROUP));
    }
    for (RouterSettings.Backend b : settings.backends()) {
      byTokenHash.put(b.tokenSha256().toLowerCase(), new Backend(b.name(), b.mayActAs(), b.mayRead(), b.mayManage()));
    }
  }

  Optional<Backend> authenticate(Metadata metadata) {
    Optional<String> header = metadata.getText("authorization");
    if (header.isEmpty() || !header.get().startsWith(BEARER)) {
      return Optional.empty();
    }
    String token = header.get().substring(BEARER.length()).trim();
    Backend configured = byTokenHash.get(sha256(token));
    if (configured != null) {
      return Optional.of(configured);
    }
    return jwtBackends ? jwt.decode(token).filter(BackendAuth::hasBackendScope).map(BackendAuth::fromJwt) : Optional.empty();
  }

  private static boolean hasBackendScope(DecodedJWT token) {
    Claim scope = token.getClaim(SCOPE_CLAIM);
    return !scope.isMissing() && scope.asString() != null && List.of(scope.asString().split(" ")).contains(BACKEND_SCOPE);
  }

  private static Backend fromJwt(DecodedJWT token) {
    List<String> actAs = token.getClaim(ACT_AS_CLAIM).asList(String.class);
    List<String> read = token.getClaim(MAY_READ_CLAIM).asList(String.class);
    List<String> manage = token.getClaim(MAY_MANAGE_CLAIM).asList(String.class);
    return new Backend(
        JWT_NAME_PREFIX + token.getSubject(), // never the name of a configured backend (rate limits are per name)
        actAs != null ? actAs : List.of(Ids.SYSTEM_PREFIX + token.getSubject()),
        read != null ? read : List.of(),
        manage != null ? manage : List.of());
  }

  static String sha256(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }
}
