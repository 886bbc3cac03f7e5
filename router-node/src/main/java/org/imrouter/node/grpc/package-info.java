/**
 * The gRPC ingress for backends (service {@code im.v1.Ingress}): backend authentication, the
 * mapping of requests to entity commands and of error codes to gRPC statuses, history reads and
 * live subscriptions. Calls into entities and delivery; nothing calls back into it.
 */
package org.imrouter.node.grpc;
