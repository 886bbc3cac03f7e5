package org.imrouter.node.grpc;

import io.grpc.Status;
import org.apache.pekko.grpc.GrpcServiceException;
import org.imrouter.node.stream.ErrorCode;

/**
 * The error codes of the client protocol as gRPC statuses. The description starts with the
 * stable code string ("NOT_A_MEMBER: …") so backends can switch on it exactly like clients do.
 */
final class IngressError {
  private IngressError() {}

  static Status.Code statusOf(ErrorCode code) {
    return switch (code) {
      case BAD_FRAME, TOO_LARGE -> Status.Code.INVALID_ARGUMENT;
      case UNAUTHENTICATED -> Status.Code.UNAUTHENTICATED;
      case FORBIDDEN, NOT_A_MEMBER -> Status.Code.PERMISSION_DENIED;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
      case RATE_LIMITED -> Status.Code.RESOURCE_EXHAUSTED;
      case UNAVAILABLE -> Status.Code.UNAVAILABLE;
      case INTERNAL -> Status.Code.INTERNAL;
    };
  }

  static GrpcServiceException of(ErrorCode code, String message) {
    return new GrpcServiceException(Status.fromCode(statusOf(code)).withDescription(code.name() + ": " + message));
  }
}
