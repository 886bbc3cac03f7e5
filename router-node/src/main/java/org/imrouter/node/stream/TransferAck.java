package org.imrouter.node.stream;

/**
 * A receiver's cumulative acknowledgement of an {@link Outbox} transfer: {@code receiver} has
 * stored every item up to {@code counter} from the sender it answers. {@code behind} says the
 * receiver was offered a later counter than the next one it needs, so something in between was
 * lost in flight and the sender should resend from {@code counter + 1}.
 */
public record TransferAck(String receiver, long counter, boolean behind) implements ClusterMessage {}
