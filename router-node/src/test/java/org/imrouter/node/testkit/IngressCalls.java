package org.imrouter.node.testkit;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.imrouter.protocol.v1.IngressClient;

/** What gRPC ingress tests share: the client, backend credentials, and waiting on calls. */
public final class IngressCalls {
  public static final Duration TIMEOUT = Duration.ofSeconds(15);

  private IngressCalls() {}

  /** A plaintext client of the node's gRPC ingress. */
  public static IngressClient client(RouterTestNode node) {
    return IngressClient.create(
        GrpcClientSettings.connectToServiceAt("127.0.0.1", node.grpcPort(), node.system()).withTls(false), node.system());
  }

  /** The hex SHA-256 of a backend token, as router.grpc.backends configures it. */
  public static String sha256(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String bearer(String token) {
    return "Bearer " + token;
  }

  /**
   * A backend JWT signed like client tokens, with {@code scope} and the pattern claims that are
   * not null.
   */
  public static String backendJwt(String subject, String scope, List<String> actAs, List<String> mayRead, List<String> mayManage) {
    var builder =
        JWT.create().withSubject(subject).withClaim("scope", scope).withExpiresAt(Instant.now().plus(1, ChronoUnit.HOURS));
    if (actAs != null) {
      builder.withArrayClaim("act_as", actAs.toArray(String[]::new));
    }
    if (mayRead != null) {
      builder.withArrayClaim("may_read", mayRead.toArray(String[]::new));
    }
    if (mayManage != null) {
      builder.withArrayClaim("may_manage", mayManage.toArray(String[]::new));
    }
    return builder.sign(Algorithm.HMAC256(Tokens.SECRET.getBytes(StandardCharsets.UTF_8)));
  }

  /** The call's result; an assertion error if it failed or took longer than {@link #TIMEOUT}. */
  public static <T> T await(CompletionStage<T> stage) {
    try {
      return stage.toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError("call failed: " + Status.fromThrowable(e.getCause()), e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("no answer in " + TIMEOUT, e);
    }
  }

  /** The status a call failed with; an assertion error if it succeeded. */
  public static Status failure(CompletionStage<?> call) {
    try {
      Object ok = call.toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      throw new AssertionError("expected a failure, got " + ok);
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("no answer in " + TIMEOUT, e);
    }
  }

  /** The stable error code a failed call carries at the start of its status description. */
  public static String errorCode(Status status) {
    String d = status.getDescription();
    return d == null || d.indexOf(':') < 0 ? "" : d.substring(0, d.indexOf(':'));
  }
}
