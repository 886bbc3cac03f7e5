package org.imrouter.node.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.util.concurrent.CompletionException;
import org.apache.pekko.grpc.GrpcServiceException;
import org.junit.jupiter.api.Test;

/** What a backend is told about a failure: our codes as they are, never an exception's text. */
class IngressErrorsTest {
  @Test
  void anUnexpectedFailureIsInternalWithAnIncidentIdAndNoExceptionText() {
    Throwable secret = new IllegalStateException("row lt-secret at /var/lib/cassandra/data/x failed");
    Status status = ((GrpcServiceException) IngressService.unwrap(new CompletionException(secret))).getStatus();
    assertEquals(Status.Code.INTERNAL, status.getCode());
    String description = status.getDescription();
    assertTrue(description.matches("INTERNAL: internal error, incident [0-9a-f-]{8}"), description);
    assertFalse(description.contains("IllegalStateException") || description.contains("secret"), description);
  }

  @Test
  void aTimeoutIsUnavailableAndOurOwnErrorsPassUnchanged() {
    Status timeout = ((GrpcServiceException) IngressService.unwrap(new java.util.concurrent.TimeoutException("x"))).getStatus();
    assertEquals(Status.Code.UNAVAILABLE, timeout.getCode());
    GrpcServiceException ours = IngressError.of(org.imrouter.node.stream.ErrorCode.NOT_FOUND, "no group g");
    assertEquals(ours, IngressService.unwrap(new CompletionException(ours)));
  }
}
