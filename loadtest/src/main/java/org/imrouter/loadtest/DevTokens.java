package org.imrouter.loadtest;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;

/**
 * Mints HS256 client tokens for development and load tests, with the secret the node uses
 * (ROUTER_JWT_SECRET, or the node's development default). Production tokens come from the
 * identity provider, never from here.
 */
public final class DevTokens {
  /** Must equal router.jwt.dev-secret in application.conf. */
  static final String DEV_SECRET = "dev-secret-change-me-dev-secret-change-me";
  private static final Duration LIFETIME = Duration.ofHours(12);

  private DevTokens() {}

  public static String secret() {
    String env = System.getenv("ROUTER_JWT_SECRET");
    return env == null || env.isEmpty() ? DEV_SECRET : env;
  }

  public static String mint(String user) {
    return JWT.create()
        .withSubject(user)
        .withExpiresAt(Instant.now().plus(LIFETIME))
        .sign(Algorithm.HMAC256(secret().getBytes(StandardCharsets.UTF_8)));
  }

  /** Prints a token for the user named on the command line. */
  public static void main(String[] args) {
    if (args.length != 1) {
      System.err.println("usage: token USER");
      System.exit(2);
    }
    System.out.println(mint(args[0]));
  }
}
