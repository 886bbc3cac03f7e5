package org.imrouter.node.testkit;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Mints client JWTs for tests, signed like an identity provider would. */
public final class Tokens {
  /** The secret every test node is configured with. */
  public static final String SECRET = "test-secret-0123456789-0123456789-abcdef";

  private Tokens() {}

  public static String valid(String user) {
    return JWT.create().withSubject(user).withExpiresAt(Instant.now().plus(1, ChronoUnit.HOURS)).sign(hs256(SECRET));
  }

  /** A token whose exp is {@code lifetime} from now (JWT exp has whole seconds: it is cut down to one). */
  public static String expiringIn(String user, java.time.Duration lifetime) {
    return JWT.create().withSubject(user).withExpiresAt(Instant.now().plus(lifetime)).sign(hs256(SECRET));
  }

  public static String expired(String user) {
    return JWT.create().withSubject(user).withExpiresAt(Instant.now().minus(1, ChronoUnit.HOURS)).sign(hs256(SECRET));
  }

  public static String withoutExpiry(String user) {
    return JWT.create().withSubject(user).sign(hs256(SECRET));
  }

  public static String wrongSignature(String user) {
    return JWT.create()
        .withSubject(user)
        .withExpiresAt(Instant.now().plus(1, ChronoUnit.HOURS))
        .sign(hs256("some-other-secret-0123456789-0123456789"));
  }

  private static Algorithm hs256(String secret) {
    return Algorithm.HMAC256(secret.getBytes(StandardCharsets.UTF_8));
  }
}
