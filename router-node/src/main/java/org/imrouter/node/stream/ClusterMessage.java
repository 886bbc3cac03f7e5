package org.imrouter.node.stream;

/**
 * Marks a message that may cross nodes (entity commands and replies, pushes, group feeds). Bound
 * to Pekko's Jackson CBOR serializer in serialization.conf; Java serialization is off, so a
 * message without this marker fails loudly the first time it would leave its node.
 */
public interface ClusterMessage {}
