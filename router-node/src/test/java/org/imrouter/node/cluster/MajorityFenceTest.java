package org.imrouter.node.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.junit.jupiter.api.Test;

/** The fence's verdict is keep-majority's, seen from the side this node reaches. */
class MajorityFenceTest {
  private static final Address A = node(25520);
  private static final Address B = node(25521);
  private static final Address C = node(25522);
  private static final Address D = node(25523);

  private static Address node(int port) {
    return new Address("pekko", "im-router", "127.0.0.1", port);
  }

  private static boolean survives(List<Address> voters, Set<Address> reached) {
    return MajorityFence.onSurvivingSide(voters, reached::contains);
  }

  @Test
  void aNodeAloneInItsClusterAlwaysWrites() {
    assertTrue(survives(List.of(A), Set.of(A)));
  }

  @Test
  void theSideWithMoreThanHalfWritesAndTheOtherDoesNot() {
    List<Address> three = List.of(A, B, C);
    assertTrue(survives(three, Set.of(B, C)), "two of three after C lost A");
    assertFalse(survives(three, Set.of(A)), "one of three: the side that is downed");
    assertTrue(survives(three, Set.of(A, B, C)));
  }

  @Test
  void anEvenSplitIsWonByTheSideWithTheLowestAddress() {
    List<Address> four = List.of(D, C, B, A); // order of the member list does not matter
    assertTrue(survives(four, Set.of(A, D)));
    assertFalse(survives(four, Set.of(B, C)));
    List<Address> two = List.of(A, B);
    assertTrue(survives(two, Set.of(A)));
    assertFalse(survives(two, Set.of(B)));
  }
}
