package org.imrouter.node.group;

import io.vavr.collection.HashMap;
import io.vavr.collection.Vector;
import java.util.ArrayList;
import java.util.List;
import org.imrouter.node.stream.SeqRange;
import org.imrouter.protocol.persist.MemberPeriods;
import org.imrouter.protocol.persist.Period;

/**
 * When each user who is or was a member of a group was one, as seqs of the group stream: from
 * the item that added them to the item that removed them. History reads leave out what a user
 * could not see: the items of periods in which they were not a member (DESIGN §4: a member
 * removed before a post never receives that post, and does not read it after coming back).
 * Immutable.
 */
record MembershipPeriods(HashMap<String, Vector<SeqRange>> byUser) {
  /** The end of the period of a current member. */
  private static final long OPEN = Long.MAX_VALUE;
  /** A snapshot's to_seq for a period that is still open. */
  private static final long SNAPSHOT_OPEN = 0;

  static MembershipPeriods empty() {
    return new MembershipPeriods(HashMap.empty());
  }

  /** {@code user} became a member at item {@code seq} (nothing changes if they already are). */
  MembershipPeriods joined(String user, long seq) {
    Vector<SeqRange> periods = byUser.get(user).getOrElse(Vector.empty());
    if (!periods.isEmpty() && periods.last().to() == OPEN) {
      return this;
    }
    return new MembershipPeriods(byUser.put(user, periods.append(new SeqRange(seq, OPEN))));
  }

  /**
   * {@code user} stopped being a member at item {@code seq}, which they still see. A member
   * without a recorded start (state from before periods were kept) gets one from the beginning.
   */
  MembershipPeriods left(String user, long seq) {
    Vector<SeqRange> periods = byUser.get(user).getOrElse(Vector.empty());
    Vector<SeqRange> closed =
        !periods.isEmpty() && periods.last().to() == OPEN
            ? periods.update(periods.size() - 1, new SeqRange(periods.last().from(), seq))
            : periods.append(new SeqRange(1, seq));
    return new MembershipPeriods(byUser.put(user, closed));
  }

  /**
   * The ranges of the stream {@code user} may not read, in order. Before their first period when
   * {@code historyBeforeJoin} is false, between their periods, and after their last one when it
   * is closed. None for a user with no recorded period (members from before periods were kept).
   */
  List<SeqRange> hidden(String user, boolean historyBeforeJoin) {
    Vector<SeqRange> periods = byUser.get(user).getOrElse(Vector.empty());
    List<SeqRange> hidden = new ArrayList<>();
    if (periods.isEmpty()) {
      return hidden;
    }
    long visibleUpTo = historyBeforeJoin ? periods.head().from() - 1 : 0;
    for (SeqRange p : periods) {
      if (p.from() > visibleUpTo + 1) {
        hidden.add(new SeqRange(visibleUpTo + 1, p.from() - 1));
      }
      visibleUpTo = Math.max(visibleUpTo, p.to());
    }
    if (visibleUpTo != OPEN) {
      hidden.add(new SeqRange(visibleUpTo + 1, OPEN));
    }
    return hidden;
  }

  List<MemberPeriods> toSnapshot() {
    return byUser.toList()
        .map(u -> MemberPeriods.newBuilder()
            .setUser(u._1)
            .addAllPeriods(u._2.map(p -> Period.newBuilder()
                .setFromSeq(p.from())
                .setToSeq(p.to() == OPEN ? SNAPSHOT_OPEN : p.to())
                .build()))
            .build())
        .toJavaList();
  }

  static MembershipPeriods fromSnapshot(List<MemberPeriods> snapshot) {
    HashMap<String, Vector<SeqRange>> byUser = HashMap.empty();
    for (MemberPeriods u : snapshot) {
      byUser = byUser.put(
          u.getUser(),
          Vector.ofAll(u.getPeriodsList()).map(p -> new SeqRange(p.getFromSeq(), p.getToSeq() == SNAPSHOT_OPEN ? OPEN : p.getToSeq())));
    }
    return new MembershipPeriods(byUser);
  }
}
