/**
 * What every stream owner shares: stream and entity ids, the stable error codes, the replies
 * entities give, and the immutable pieces of entity state that make delivery exactly-once
 * (dedup window, at-least-once outbox, recent-items window). Knows no transport and no wire
 * format of clients.
 */
package org.imrouter.node.stream;
