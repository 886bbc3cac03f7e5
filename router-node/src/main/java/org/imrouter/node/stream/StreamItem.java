package org.imrouter.node.stream;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.InboxEvent;

/**
 * One persisted item of a stream, as entities hand it to delivery: the stream owner, its seq
 * (the event's persistence sequence number) and the event itself.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME)
@JsonSubTypes({
  @JsonSubTypes.Type(value = StreamItem.Inbox.class, name = "inbox"),
  @JsonSubTypes.Type(value = StreamItem.Group.class, name = "group")
})
public sealed interface StreamItem extends Push {
  long seq();

  /** The stored event's size in bytes (protobuf caches it): what a page of history weighs. */
  int storedBytes();

  /** An item of user {@code userId}'s inbox. */
  record Inbox(String userId, long seq, InboxEvent event) implements StreamItem {
    @Override
    public int storedBytes() {
      return event.getSerializedSize();
    }
  }

  /** An item of group {@code groupId}'s stream. */
  record Group(String groupId, long seq, GroupEvent event) implements StreamItem {
    @Override
    public int storedBytes() {
      return event.getSerializedSize();
    }
  }
}
