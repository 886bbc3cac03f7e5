package org.imrouter.node.bootstrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.imrouter.node.config.RouterSettings;
import org.junit.jupiter.api.Test;

/** The public development credentials are refused on any listener other hosts can reach. */
class DevCredentialsTest {
  private static final String SECRET = "a-production-secret-of-enough-length-0123456789";

  private static List<String> refusals(String host, Map<String, Object> more) {
    Map<String, Object> overrides = new HashMap<>(more);
    overrides.put("router.http.host", host);
    overrides.put("router.grpc.host", host);
    return DevCredentials.refusals(RouterSettings.fromConfig(ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load())));
  }

  @Test
  void developmentCredentialsAreAllowedOnLoopbackOnly() {
    assertEquals(List.of(), refusals("127.0.0.1", Map.of()));
    assertEquals(List.of(), refusals("127.0.0.3", Map.of()), "the local cluster's addresses");
    List<String> wildcard = refusals("0.0.0.0", Map.of());
    assertEquals(3, wildcard.size(), wildcard.toString());
    assertTrue(wildcard.get(0).contains("ROUTER_JWT_SECRET"));
    assertTrue(wildcard.get(2).contains("ROUTER_BACKEND_TOKEN"));
  }

  @Test
  void eachRealCredentialLiftsItsOwnRefusal() {
    assertEquals(List.of(), refusals("0.0.0.0", Map.of("router.jwt.secret", SECRET, "router.grpc.default-token", "real-token")));
    List<String> tokenOnly = refusals("0.0.0.0", Map.of("router.jwt.secret", SECRET));
    assertEquals(1, tokenOnly.size());
    assertTrue(tokenOnly.get(0).contains("ROUTER_BACKEND_TOKEN"));
    List<String> secretOnly = refusals("0.0.0.0", Map.of("router.grpc.default-token", "real-token"));
    assertEquals(2, secretOnly.size(), "client tokens and backend JWTs both use the secret");
    assertEquals(
        1,
        refusals("0.0.0.0", Map.of("router.grpc.default-token", "real-token", "router.grpc.jwt-backends", false)).size(),
        "without backend JWTs only the WebSocket listener uses the secret");
  }

  @Test
  void onlyLoopbackAddressesCountAsLocal() {
    assertTrue(DevCredentials.isLoopback("localhost"));
    assertTrue(DevCredentials.isLoopback("::1"));
    assertFalse(DevCredentials.isLoopback("0.0.0.0"));
    assertFalse(DevCredentials.isLoopback("::"));
    assertFalse(DevCredentials.isLoopback("no-such-host.invalid"));
  }
}
