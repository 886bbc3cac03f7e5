package org.imrouter.node.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.interfaces.DecodedJWT;
import com.auth0.jwt.interfaces.Verification;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.Ids;

/**
 * Verifies client JWTs: HS256 (the secret as raw UTF-8 bytes) or RS256 (an X.509 PEM public
 * key), signature, {@code exp} required as a date and enforced, {@code sub} a valid user id, and
 * {@code iss} and {@code aud} when the node is configured with them.
 */
public final class JwtVerifier {
  private final JWTVerifier verifier;
  private final Duration leeway;

  /**
   * A valid client token: its user, and the instant until which the token verifies ({@code exp}
   * plus the leeway), which is how long a session on it may last.
   */
  public record ClientToken(String userId, Instant validUntil) {}

  public JwtVerifier(RouterSettings.Jwt settings) {
    this.leeway = settings.leeway();
    Algorithm algorithm =
        switch (settings.algorithm()) {
          case "HS256" -> Algorithm.HMAC256(settings.secret().getBytes(StandardCharsets.UTF_8));
          case "RS256" -> Algorithm.RSA256(parsePublicKey(settings.publicKeyPem()), null);
          default -> throw new IllegalArgumentException("router.jwt.algorithm must be HS256 or RS256");
        };
    Verification required =
        JWT.require(algorithm).withClaimPresence("exp").withClaimPresence("sub").acceptLeeway(settings.leeway().toSeconds());
    if (!settings.issuer().isEmpty()) {
      required = required.withIssuer(settings.issuer());
    }
    if (!settings.audience().isEmpty()) {
      required = required.withAnyOfAudience(settings.audience());
    }
    this.verifier = required.build();
  }

  /**
   * The user and validity of a valid client token (at connect and at an in-band refresh alike);
   * empty for a missing, malformed, badly signed or expired one.
   */
  public Optional<ClientToken> verify(String token) {
    return decode(token).map(jwt -> new ClientToken(jwt.getSubject(), jwt.getExpiresAtAsInstant().plus(leeway)));
  }

  /** The claims of a valid token whose subject is a valid id; empty otherwise. */
  public Optional<DecodedJWT> decode(String token) {
    if (token == null || token.isEmpty()) {
      return Optional.empty();
    }
    try {
      DecodedJWT jwt = verifier.verify(token);
      // "exp": null passes the presence check and the library then skips the expiry check: a
      // token that never expires. Only a date counts.
      if (jwt.getExpiresAt() == null) {
        return Optional.empty();
      }
      return Ids.isValid(jwt.getSubject()) ? Optional.of(jwt) : Optional.empty();
    } catch (JWTVerificationException e) {
      return Optional.empty();
    }
  }

  static RSAPublicKey parsePublicKey(String pem) {
    try {
      String base64 = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
      byte[] der = Base64.getDecoder().decode(base64);
      return (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
    } catch (Exception e) {
      throw new IllegalArgumentException("router.jwt.public-key-pem is not an X.509 RSA public key", e);
    }
  }
}
