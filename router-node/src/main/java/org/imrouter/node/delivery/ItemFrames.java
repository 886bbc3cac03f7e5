package org.imrouter.node.delivery;

import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.protocol.persist.DirectReceived;
import org.imrouter.protocol.persist.DirectSent;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.MembersChanged;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;

/**
 * Maps persisted stream items to the client's view of them. A direct message's conversation is
 * the other party on both copies; both copies carry the same msgId.
 */
public final class ItemFrames {
  private ItemFrames() {}

  public static org.imrouter.protocol.v1.StreamItem toClient(StreamItem item) {
    if (item instanceof StreamItem.Inbox inbox) {
      return inbox(inbox.userId(), inbox.seq(), inbox.event());
    }
    StreamItem.Group group = (StreamItem.Group) item;
    return group(group.groupId(), group.seq(), group.event());
  }

  static org.imrouter.protocol.v1.StreamItem inbox(String userId, long seq, InboxEvent e) {
    var out = org.imrouter.protocol.v1.StreamItem.newBuilder();
    switch (e.getEventCase()) {
      case SENT -> {
        DirectSent s = e.getSent();
        out.setMessage(
            Message.newBuilder()
                .setStream(Ids.INBOX)
                .setSeq(seq)
                .setMsgId(s.getMsgId())
                .setFrom(userId)
                .setConversation(Ids.userConversation(s.getPeer()))
                .setTs(e.getTs())
                .setContentType(s.getContentType())
                .setText(s.getText())
                .setPayload(s.getPayload()));
      }
      case RECEIVED -> {
        DirectReceived r = e.getReceived();
        out.setMessage(
            Message.newBuilder()
                .setStream(Ids.INBOX)
                .setSeq(seq)
                .setMsgId(r.getMsgId())
                .setFrom(r.getPeer())
                .setConversation(Ids.conversationWith(r.getPeer()))
                .setTs(e.getTs())
                .setContentType(r.getContentType())
                .setText(r.getText())
                .setPayload(r.getPayload()));
      }
      case MEMBERSHIP ->
          out.setSystem(
              SystemItem.newBuilder()
                  .setStream(Ids.INBOX)
                  .setSeq(seq)
                  .setKind(e.getMembership().getMember() ? SystemKind.ADDED_TO_GROUP : SystemKind.REMOVED_FROM_GROUP)
                  .setActor(e.getMembership().getActor())
                  .setGroup(Ids.groupStream(e.getMembership().getGroupId()))
                  .setTs(e.getTs()));
      case READ ->
          out.setSystem(
              SystemItem.newBuilder()
                  .setStream(Ids.INBOX)
                  .setSeq(seq)
                  .setKind(SystemKind.READ)
                  .setTarget(e.getRead().getTarget())
                  .setReadSeq(e.getRead().getReadSeq())
                  .setTs(e.getTs()));
      default -> throw new IllegalArgumentException("unknown inbox event " + e.getEventCase());
    }
    return out.build();
  }

  static org.imrouter.protocol.v1.StreamItem group(String groupId, long seq, GroupEvent e) {
    String stream = Ids.groupStream(groupId);
    var out = org.imrouter.protocol.v1.StreamItem.newBuilder();
    SystemItem.Builder system = SystemItem.newBuilder().setStream(stream).setSeq(seq).setTs(e.getTs());
    switch (e.getEventCase()) {
      case POSTED ->
          out.setMessage(
              Message.newBuilder()
                  .setStream(stream)
                  .setSeq(seq)
                  .setMsgId(e.getPosted().getMsgId())
                  .setFrom(e.getPosted().getFrom())
                  .setConversation(stream)
                  .setTs(e.getTs())
                  .setContentType(e.getPosted().getContentType())
                  .setText(e.getPosted().getText())
                  .setPayload(e.getPosted().getPayload()));
      case CREATED ->
          out.setSystem(
              system
                  .setKind(SystemKind.CREATED)
                  .setActor(e.getCreated().getOwner())
                  .setTitle(e.getCreated().getTitle())
                  .addAllMembers(e.getCreated().getMembersList()));
      case MEMBERS_ADDED -> out.setSystem(change(system, SystemKind.MEMBER_ADDED, e.getMembersAdded()));
      case MEMBERS_REMOVED -> out.setSystem(change(system, SystemKind.MEMBER_REMOVED, e.getMembersRemoved()));
      case MEMBER_LEFT -> out.setSystem(change(system, SystemKind.MEMBER_LEFT, e.getMemberLeft()));
      case ROLE_CHANGED ->
          out.setSystem(
              system
                  .setKind(SystemKind.ROLE_CHANGED)
                  .setActor(e.getRoleChanged().getActor())
                  .addMembers(e.getRoleChanged().getMember())
                  .setRole(e.getRoleChanged().getRole().name()));
      default -> throw new IllegalArgumentException("unknown group event " + e.getEventCase());
    }
    return out.build();
  }

  private static SystemItem.Builder change(SystemItem.Builder b, SystemKind kind, MembersChanged c) {
    return b.setKind(kind).setActor(c.getActor()).addAllMembers(c.getMembersList());
  }
}
