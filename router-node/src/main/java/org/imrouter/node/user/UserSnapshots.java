package org.imrouter.node.user;

import io.vavr.collection.HashMap;
import io.vavr.collection.TreeSet;
import org.apache.pekko.persistence.typed.SnapshotAdapter;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.DedupWindow;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Outbox;
import org.imrouter.node.stream.RecentItems;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StreamItem;
import org.imrouter.protocol.persist.Cursor;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.PeerCounter;
import org.imrouter.protocol.persist.SeqEvent;
import org.imrouter.protocol.persist.UserSnapshot;

/**
 * Maps {@link UserEntity.State} to its protobuf snapshot and back, so snapshots evolve like
 * events do. Window sizes are settings, not data: they come from the running configuration. A
 * snapshot holds what recovery cannot rebuild from the events after it (dedup window, counters,
 * unconfirmed transfers, groups, cursors), not the recent items (docs/decisions/0007).
 */
final class UserSnapshots implements SnapshotAdapter<UserEntity.State> {
  private final String userId;
  private final RouterSettings.EntitySettings settings;

  UserSnapshots(String userId, RouterSettings.EntitySettings settings) {
    this.userId = userId;
    this.settings = settings;
  }

  @Override
  public Object toJournal(UserEntity.State state) {
    UserSnapshot.Builder b = UserSnapshot.newBuilder().setLastSeq(state.lastSeq());
    // The recent items are not written: they are the journal's last events again, and with long
    // texts they could make a snapshot huge. Recovery refills them from the events it replays;
    // syncs further back read the journal.
    b.addAllDedup(state.dedup().toSnapshot());
    state.outbox().next().forEach((peer, c) -> b.addSentCounters(counter(peer, c)));
    state.outbox().pending().values().forEach(q -> q.forEach(p -> b.addOutbox(seqEvent(p.seq(), p.item()))));
    state.received().forEach((source, c) -> b.addReceivedCounters(counter(source, c)));
    state.groups().forEach(b::addGroups);
    state.cursors().forEach((stream, seq) -> b.addCursors(Cursor.newBuilder().setStream(stream).setReadSeq(seq)));
    return b.build();
  }

  @Override
  public UserEntity.State fromJournal(Object from) {
    UserSnapshot s = (UserSnapshot) from;
    RecentItems recent = RecentItems.empty(settings.recentItems());
    for (SeqEvent e : s.getRecentList()) { // only snapshots of earlier versions carry them
      recent = recent.add(new StreamItem.Inbox(userId, e.getSeq(), e.getInbox()));
    }
    DedupWindow dedup = DedupWindow.fromSnapshot(s.getDedupList(), settings, Ids.INBOX, userId);
    Outbox<InboxEvent> outbox = Outbox.empty();
    for (SeqEvent e : s.getOutboxList()) {
      outbox = outbox.add(e.getInbox().getSent().getPeer(), e.getInbox().getSent().getCounter(), e.getSeq(), e.getInbox());
    }
    HashMap<String, Long> next = outbox.next();
    for (PeerCounter c : s.getSentCountersList()) {
      next = next.put(c.getPeer(), c.getCounter());
    }
    outbox = new Outbox<>(next, outbox.pending());
    HashMap<String, Long> received = HashMap.empty();
    for (PeerCounter c : s.getReceivedCountersList()) {
      received = received.put(c.getPeer(), c.getCounter());
    }
    HashMap<String, Long> cursors = HashMap.empty();
    for (Cursor c : s.getCursorsList()) {
      cursors = cursors.put(c.getStream(), c.getReadSeq());
    }
    return new UserEntity.State(
        userId, s.getLastSeq(), recent, dedup, outbox, received, TreeSet.ofAll(s.getGroupsList()), cursors);
  }

  private static SeqEvent seqEvent(long seq, InboxEvent event) {
    return SeqEvent.newBuilder().setSeq(seq).setInbox(event).build();
  }

  private static PeerCounter counter(String peer, long counter) {
    return PeerCounter.newBuilder().setPeer(peer).setCounter(counter).build();
  }
}
