package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Map;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.Welcome;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Authentication end to end: the JWT is checked before the upgrade, so every bad token is an
 * HTTP 401 and no WebSocket; a good one works in the header and in the query; RS256 nodes take
 * RS256 tokens only.
 */
class AuthTest {
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node = new RouterTestNode("auth");
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  private static int statusWithQueryToken(RouterTestNode on, String token) {
    return WsClient.handshakeStatus(on.wsUri(token), Map.of());
  }

  private static int statusWithHeader(String authorization) {
    return WsClient.handshakeStatus(node.wsUri(null), Map.of("Authorization", authorization));
  }

  private static String hs256(String secret, com.auth0.jwt.JWTCreator.Builder jwt) {
    return jwt.sign(Algorithm.HMAC256(secret.getBytes(StandardCharsets.UTF_8)));
  }

  private static Instant inAnHour() {
    return Instant.now().plus(1, ChronoUnit.HOURS);
  }

  @Test
  void aMissingTokenIsRefusedBeforeTheUpgrade() {
    assertEquals(401, statusWithQueryToken(node, null));
    assertEquals(401, statusWithQueryToken(node, ""), "an empty access_token is no token");
    assertEquals(401, statusWithHeader("Bearer "), "an empty bearer token is no token");
    assertEquals(401, statusWithHeader("Basic " + Base64.getEncoder().encodeToString("u:p".getBytes(StandardCharsets.UTF_8))));
  }

  @Test
  void aMalformedTokenIsRefused() {
    assertEquals(401, statusWithQueryToken(node, "not-a-jwt"));
    assertEquals(401, statusWithQueryToken(node, "a.b.c"));
    assertEquals(401, statusWithHeader("Bearer not-a-jwt"));
  }

  @Test
  void aBadlySignedTokenIsRefused() {
    assertEquals(401, statusWithQueryToken(node, Tokens.wrongSignature("auth-mallory")));
    assertEquals(401, statusWithHeader("Bearer " + Tokens.wrongSignature("auth-mallory")));
  }

  @Test
  void anUnsignedTokenIsRefused() {
    // alg "none": a classic forgery; the verifier must insist on the configured algorithm
    String unsigned = JWT.create().withSubject("auth-mallory").withExpiresAt(inAnHour()).sign(Algorithm.none());
    assertEquals(401, statusWithQueryToken(node, unsigned));
  }

  @Test
  void anExpiredTokenIsRefused() {
    assertEquals(401, statusWithQueryToken(node, Tokens.expired("auth-alice")));
  }

  @Test
  void aTokenWithoutExpiryIsRefused() {
    assertEquals(401, statusWithQueryToken(node, Tokens.withoutExpiry("auth-alice")), "an exp claim is required");
  }

  @Test
  void aTokenWhoseExpiryIsNotADateIsRefused() {
    String nullExpiry = hs256(Tokens.SECRET, JWT.create().withSubject("auth-alice").withNullClaim("exp"));
    assertEquals(401, statusWithQueryToken(node, nullExpiry), "\"exp\": null would never expire");
    String textExpiry = hs256(Tokens.SECRET, JWT.create().withSubject("auth-alice").withClaim("exp", "tomorrow"));
    assertEquals(401, statusWithQueryToken(node, textExpiry));
  }

  @Test
  void aTokenNotYetValidIsRefused() {
    String future = hs256(Tokens.SECRET, JWT.create().withSubject("auth-alice").withExpiresAt(inAnHour()).withNotBefore(inAnHour()));
    assertEquals(401, statusWithQueryToken(node, future));
  }

  @Test
  void aTokenWhoseSubjectIsNotAValidUserIdIsRefused() {
    for (String sub : new String[] {"bad id!", "", "user:alice", "x".repeat(65)}) {
      String token = hs256(Tokens.SECRET, JWT.create().withSubject(sub).withExpiresAt(inAnHour()));
      assertEquals(401, statusWithQueryToken(node, token), "sub '" + sub + "'");
    }
    String noSubject = hs256(Tokens.SECRET, JWT.create().withExpiresAt(inAnHour()));
    assertEquals(401, statusWithQueryToken(node, noSubject), "no sub at all");
  }

  @Test
  void theRefusalIsAPlainHttp401WithAChallenge() throws IOException, InterruptedException {
    HttpResponse<String> response = get(node.wsUri(Tokens.expired("auth-alice")), Map.of());
    assertEquals(401, response.statusCode());
    // RFC 7235: a 401 must say how to authenticate
    assertTrue(
        response.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"),
        "WWW-Authenticate: " + response.headers().allValues("WWW-Authenticate"));
  }

  @Test
  void aValidTokenInTheAuthorizationHeaderOpensASession() {
    try (WsClient c = WsClient.connect(node.wsUri(null), Map.of("Authorization", "Bearer " + Tokens.valid("auth-header")))) {
      Welcome welcome = c.welcome().getWelcome();
      assertEquals("auth-header", welcome.getUserId(), "the session is the token's subject");
      c.roundTrip(1);
    }
  }

  @Test
  void theBearerSchemeIsCaseInsensitive() {
    // RFC 7235 §2.1: the auth scheme is matched case-insensitively
    try (WsClient c = WsClient.connect(node.wsUri(null), Map.of("Authorization", "bearer " + Tokens.valid("auth-lower")))) {
      assertEquals("auth-lower", c.welcome().getWelcome().getUserId());
    }
  }

  @Test
  void aValidTokenInTheQueryOpensASession() {
    try (WsClient c = WsClient.connect(node.wsUri(Tokens.valid("auth-query")))) {
      assertEquals("auth-query", c.welcome().getWelcome().getUserId());
      c.roundTrip(2);
    }
  }

  @Test
  void aPlainGetWithAValidTokenIsNotAWebSocket() throws IOException, InterruptedException {
    HttpResponse<String> response = get(node.wsUri(null), Map.of("Authorization", "Bearer " + Tokens.valid("auth-plain")));
    assertTrue(response.statusCode() >= 400 && response.statusCode() < 500, "status " + response.statusCode());
    assertEquals(401, get(node.wsUri(null), Map.of()).statusCode(), "auth is checked first");
  }

  private static HttpResponse<String> get(URI ws, Map<String, String> headers) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(ws.toString().replaceFirst("^ws:", "http:"))).timeout(WsClient.TIMEOUT).GET();
    headers.forEach(request::header);
    return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void anRs256NodeTakesRs256TokensAndRefusesHs256Ones() throws NoSuchAlgorithmException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    KeyPair keys = generator.generateKeyPair();
    String pem =
        "-----BEGIN PUBLIC KEY-----\n"
            + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(keys.getPublic().getEncoded())
            + "\n-----END PUBLIC KEY-----\n";
    Algorithm rs256 = Algorithm.RSA256((RSAPublicKey) keys.getPublic(), (RSAPrivateKey) keys.getPrivate());
    try (RouterTestNode rsNode =
        new RouterTestNode("auth_rs256", Map.of("router.jwt.algorithm", "RS256", "router.jwt.public-key-pem", pem))) {
      String good = JWT.create().withSubject("auth-rsa").withExpiresAt(inAnHour()).sign(rs256);
      try (WsClient c = WsClient.connect(rsNode.wsUri(good))) {
        assertEquals("auth-rsa", c.welcome().getWelcome().getUserId());
      }
      assertEquals(401, statusWithQueryToken(rsNode, Tokens.valid("auth-rsa")), "HS256 token on an RS256 node");
      String expired = JWT.create().withSubject("auth-rsa").withExpiresAt(Instant.now().minus(1, ChronoUnit.HOURS)).sign(rs256);
      assertEquals(401, statusWithQueryToken(rsNode, expired));
      // key confusion: HMAC keyed with the (public) RSA key must not pass as RS256
      String confused = JWT.create().withSubject("auth-rsa").withExpiresAt(inAnHour()).sign(Algorithm.HMAC256(pem.getBytes(StandardCharsets.UTF_8)));
      assertEquals(401, statusWithQueryToken(rsNode, confused));
      KeyPair other = generator.generateKeyPair();
      String otherKey =
          JWT.create()
              .withSubject("auth-rsa")
              .withExpiresAt(inAnHour())
              .sign(Algorithm.RSA256((RSAPublicKey) other.getPublic(), (RSAPrivateKey) other.getPrivate()));
      assertEquals(401, statusWithQueryToken(rsNode, otherKey), "signed by another key");
    }
  }

  @Test
  void aNodeWithAnIssuerAndAudienceTakesOnlyTokensMintedForIt() {
    try (RouterTestNode scoped =
        new RouterTestNode("auth_iss", Map.of("router.jwt.issuer", "https://id.example", "router.jwt.audience", "im-router"))) {
      String right =
          hs256(Tokens.SECRET, JWT.create().withSubject("auth-iss").withExpiresAt(inAnHour()).withIssuer("https://id.example")
              .withAudience("billing", "im-router"));
      try (WsClient c = WsClient.connect(scoped.wsUri(right))) {
        assertEquals("auth-iss", c.welcome().getWelcome().getUserId(), "one of several audiences is enough");
      }
      assertEquals(401, statusWithQueryToken(scoped, Tokens.valid("auth-iss")), "no iss and no aud");
      String otherIssuer =
          hs256(Tokens.SECRET, JWT.create().withSubject("auth-iss").withExpiresAt(inAnHour()).withIssuer("https://evil.example")
              .withAudience("im-router"));
      assertEquals(401, statusWithQueryToken(scoped, otherIssuer));
      String otherAudience =
          hs256(Tokens.SECRET, JWT.create().withSubject("auth-iss").withExpiresAt(inAnHour()).withIssuer("https://id.example")
              .withAudience("billing"));
      assertEquals(401, statusWithQueryToken(scoped, otherAudience), "a token minted for another service");
    }
  }
}
