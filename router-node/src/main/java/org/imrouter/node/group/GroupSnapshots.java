package org.imrouter.node.group;

import io.vavr.collection.LinkedHashMap;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.DedupWindow;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.protocol.persist.GroupSnapshot;
import org.imrouter.protocol.persist.MemberSnapshot;
import org.imrouter.protocol.persist.PeerCounter;
import org.imrouter.protocol.persist.PendingNotice;
import org.imrouter.protocol.persist.Role;
import org.imrouter.protocol.persist.SeqEvent;

/** Maps {@link GroupEntity.State} to its protobuf snapshot and back. */
final class GroupSnapshots implements SnapshotAdapter<GroupEntity.State> {
  private final String groupId;
  private final RouterSettings.EntitySettings settings;

  GroupSnapshots(String groupId, RouterSettings.EntitySettings settings) {
    this.groupId = groupId;
    this.settings = settings;
  }

  @Override
  public Object toJournal(GroupEntity.State state) {
    GroupSnapshot.Builder b =
        GroupSnapshot.newBuilder().setLastSeq(state.lastSeq()).setCreated(state.created()).setTitle(state.title());
    state.members().forEach((user, role) -> b.addMembers(MemberSnapshot.newBuilder().setUser(user).setRole(role)));
    // not the recent items: recovery refills them from the events it replays (see UserSnapshots)
    b.addAllDedup(state.dedup().toSnapshot());
    b.addAllPeriods(state.periods().toSnapshot());
    state.outbox().next().forEach((user, c) -> b.addNoticeCounters(PeerCounter.newBuilder().setPeer(user).setCounter(c)));
    state.outbox().pending().forEach((user, queue) -> queue.forEach(p -> b.addOutbox(
        PendingNotice.newBuilder().setUser(user).setCounter(p.counter()).setSeq(p.seq())
            .setMember(p.item().member()).setActor(p.item().actor()))));
    return b.build();
  }

  @Override
  public GroupEntity.State fromJournal(Object from) {
    GroupSnapshot s = (GroupSnapshot) from;
    LinkedHashMap<String, Role> members = LinkedHashMap.empty();
    for (MemberSnapshot m : s.getMembersList()) {
      members = members.put(m.getUser(), m.getRole());
    }
    RecentItems recent = RecentItems.empty(settings.recentItems());
    for (SeqEvent e : s.getRecentList()) { // only snapshots of earlier versions carry them
      recent = recent.add(new StreamItem.Group(groupId, e.getSeq(), e.getGroup()));
    }
    DedupWindow dedup = DedupWindow.fromSnapshot(s.getDedupList(), settings, Ids.groupStream(groupId), "");
    Outbox<GroupEntity.Notice> outbox = Outbox.empty();
    for (PendingNotice p : s.getOutboxList()) {
      outbox = outbox.add(p.getUser(), p.getCounter(), p.getSeq(), new GroupEntity.Notice(p.getMember(), p.getActor()));
    }
    var next = outbox.next();
    for (PeerCounter c : s.getNoticeCountersList()) {
      next = next.put(c.getPeer(), c.getCounter());
    }
    return new GroupEntity.State(
        groupId, s.getCreated(), s.getTitle(), s.getLastSeq(), members, MembershipPeriods.fromSnapshot(s.getPeriodsList()),
        recent, dedup, new Outbox<>(next, outbox.pending()));
  }
}
