package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.AddMembers;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.CreateGroup;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.LeaveGroup;
import org.imrouter.protocol.v1.RemoveMembers;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.SetRole;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Rights inside a group, over real WebSockets: roles changed only by the owner (and ownership
 * handed over), admins bounded below the owner, history that honours membership periods, and
 * idempotent posts per sender however busy the group.
 */
class GroupRightsTest {
  /** Small, so that history of a removed period is read from the journal as well as memory. */
  private static final int RECENT_ITEMS = 3;
  /** Small dedup bounds, so that a flood "far beyond the window" is a few hundred posts. */
  private static final int DEDUP_PER_SENDER = 20;
  private static final int DEDUP_ENTRIES = 50;
  private static final int FLOOD = 6 * DEDUP_ENTRIES;

  private static RouterTestNode node;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "group_rights",
            Map.of(
                "router.entity.recent-items", RECENT_ITEMS,
                "router.entity.dedup-per-sender", DEDUP_PER_SENDER,
                "router.entity.dedup-entries", DEDUP_ENTRIES,
                "router.limits.sends-per-second", 10 * FLOOD,
                "router.limits.send-burst", 10 * FLOOD));
  }

  @AfterAll
  static void stop() {
    node.close();
  }

  // ------------------------------------------------------------------ roles

  @Test
  void onlyTheOwnerChangesRolesAndAdminsManageMembersBelowThem() {
    String g = "ro-team";
    try (WsClient owner = node.welcomed("ro-owner"); WsClient bob = node.welcomed("ro-bob"); WsClient carol = node.welcomed("ro-carol")) {
      owner.send(create("r1", g, "ro-bob", "ro-carol", "ro-dave"));
      owner.expectResult("r1");
      // live items reach a member from the moment its ADDED_TO_GROUP arrives (before: sync)
      carol.expect(f -> f.hasSystem() && f.getSystem().getKind() == SystemKind.ADDED_TO_GROUP, "ADDED_TO_GROUP");

      // nobody but the owner gives roles; a plain member manages nothing
      bob.send(setRole("r2", g, "ro-bob", "ADMIN"));
      bob.expectError("r2", "FORBIDDEN");
      bob.send(add("r3", g, "ro-erin"));
      bob.expectError("r3", "FORBIDDEN");

      owner.send(setRole("r4", g, "ro-bob", "ADMIN"));
      owner.expectResult("r4");
      SystemItem changed = expectSystem(carol, g, SystemKind.ROLE_CHANGED);
      assertEquals("ro-owner", changed.getActor());
      assertEquals(List.of("ro-bob"), changed.getMembersList());
      assertEquals("ADMIN", changed.getRole());

      // an admin adds and removes members ...
      bob.send(add("r5", g, "ro-erin"));
      bob.expectResult("r5");
      bob.send(remove("r6", g, "ro-dave"));
      bob.expectResult("r6");
      // ... but gives no roles, removes no other admin and never the owner
      bob.send(setRole("r7", g, "ro-carol", "ADMIN"));
      bob.expectError("r7", "FORBIDDEN");
      owner.send(setRole("r8", g, "ro-carol", "ADMIN"));
      owner.expectResult("r8");
      bob.send(remove("r9", g, "ro-carol"));
      bob.expectError("r9", "FORBIDDEN");
      bob.send(remove("r10", g, "ro-owner"));
      bob.expectError("r10", "FORBIDDEN");
      // roles are MEMBER, ADMIN or OWNER, of members only
      owner.send(setRole("r11", g, "ro-carol", "GOD"));
      owner.expectError("r11", "BAD_FRAME");
      owner.send(setRole("r12", g, "ro-stranger", "ADMIN"));
      owner.expectError("r12", "NOT_A_MEMBER");

      // the owner hands the group over and becomes an admin, who may then leave
      owner.send(setRole("r13", g, "ro-bob", "OWNER"));
      owner.expectResult("r13");
      owner.send(setRole("r14", g, "ro-carol", "MEMBER"));
      owner.expectError("r14", "FORBIDDEN");
      bob.send(setRole("r15", g, "ro-carol", "MEMBER"));
      bob.expectResult("r15");
      owner.send(ClientFrame.newBuilder().setLeaveGroup(LeaveGroup.newBuilder().setRequestId("r16").setGroupId(g)).build());
      owner.expectResult("r16");

      List<SystemItem> roleChanges =
          carol.sync(stream(g), 0, 100).getItemsList().stream()
              .filter(StreamItem::hasSystem)
              .map(StreamItem::getSystem)
              .filter(s -> s.getKind() == SystemKind.ROLE_CHANGED)
              .toList();
      assertEquals(
          List.of("ro-bob:ADMIN", "ro-carol:ADMIN", "ro-bob:OWNER", "ro-carol:MEMBER"),
          roleChanges.stream().map(s -> s.getMembers(0) + ":" + s.getRole()).toList());
    }
  }

  // ------------------------------------------------------------------ membership periods

  @Test
  void aMemberRemovedAndAddedBackNeverReadsWhatWasPostedWhileOut() {
    String g = "mp-team";
    try (WsClient owner = node.welcomed("mp-owner"); WsClient carol = node.welcomed("mp-carol")) {
      owner.send(create("r1", g, "mp-carol"));
      owner.expectResult("r1");
      post(owner, "before", g);
      owner.send(remove("r2", g, "mp-carol"));
      owner.expectResult("r2");
      List<String> whileOut = new ArrayList<>();
      for (int i = 0; i < 2 * RECENT_ITEMS + 1; i++) { // more than memory holds: the journal path too
        whileOut.add("out-" + i);
        post(owner, "out-" + i, g);
      }
      carol.send(ClientFrame.newBuilder().setSync(org.imrouter.protocol.v1.Sync.newBuilder().setStream(stream(g))).build());
      carol.expectError(stream(g), "NOT_A_MEMBER");
      owner.send(add("r3", g, "mp-carol"));
      owner.expectResult("r3");
      post(owner, "after", g);

      // one page
      History all = carol.sync(stream(g), 0, 100);
      assertEquals(List.of("CREATED", "before", "MEMBER_REMOVED", "MEMBER_ADDED", "after"), describe(all.getItemsList()));
      assertFalse(all.getHasMore());
      // page by page, from every cursor: never an item from the period out, never an empty page
      // before the end, so a client that follows hasMore gets exactly the same
      for (int limit = 1; limit <= 3; limit++) {
        List<StreamItem> paged = new ArrayList<>();
        long after = 0;
        boolean more = true;
        while (more) {
          History page = carol.sync(stream(g), after, limit);
          assertFalse(page.getItemsList().isEmpty() && page.getHasMore(), "an empty page that says there is more");
          paged.addAll(page.getItemsList());
          after = page.getItemsCount() == 0 ? after : seqOf(page.getItems(page.getItemsCount() - 1));
          more = page.getHasMore();
        }
        assertEquals(describe(all.getItemsList()), describe(paged), "pages of " + limit);
      }
      // a cursor inside the hidden period starts after it
      long removedAt = seqOf(all.getItems(2));
      assertEquals(List.of("MEMBER_ADDED", "after"), describe(carol.sync(stream(g), removedAt + 1, 100).getItemsList()));
      // the owner, a member all along, reads everything
      assertEquals(5 + whileOut.size(), owner.sync(stream(g), 0, 100).getItemsCount());
    }
  }

  // ------------------------------------------------------------------ idempotency per sender

  @Test
  void aMembersRetryIsDeduplicatedAfterOthersPostedFarMoreThanTheWindow() {
    String g = "dd-team";
    try (WsClient alice = node.welcomed("dd-alice"); WsClient bob = node.welcomed("dd-bob")) {
      alice.send(create("r1", g, "dd-bob"));
      alice.expectResult("r1");
      ServerFrame first = post(alice, "a-1", g);
      for (int i = 0; i < FLOOD; i++) {
        bob.send(send("b-" + i, g, "flood " + i));
      }
      bob.expectAccepted("b-" + (FLOOD - 1));

      ServerFrame retry = post(alice, "a-1", g);
      assertEquals(first.getAccepted(), retry.getAccepted(), "the retry is answered with the original acceptance");
      // and nothing new was stored: the stream ends with bob's flood
      History tail = alice.sync(stream(g), retry.getAccepted().getSeq(), 1000);
      assertEquals(FLOOD, tail.getItemsCount());
      assertTrue(tail.getItemsList().stream().noneMatch(i -> i.hasMessage() && i.getMessage().getFrom().equals("dd-alice")));
    }
  }

  // ------------------------------------------------------------------ helpers

  private static String stream(String groupId) {
    return "group:" + groupId;
  }

  private static ClientFrame create(String requestId, String groupId, String... members) {
    return ClientFrame.newBuilder()
        .setCreateGroup(CreateGroup.newBuilder().setRequestId(requestId).setGroupId(groupId).setTitle(groupId).addAllMembers(List.of(members)))
        .build();
  }

  private static ClientFrame add(String requestId, String groupId, String... members) {
    return ClientFrame.newBuilder()
        .setAddMembers(AddMembers.newBuilder().setRequestId(requestId).setGroupId(groupId).addAllMembers(List.of(members)))
        .build();
  }

  private static ClientFrame remove(String requestId, String groupId, String... members) {
    return ClientFrame.newBuilder()
        .setRemoveMembers(RemoveMembers.newBuilder().setRequestId(requestId).setGroupId(groupId).addAllMembers(List.of(members)))
        .build();
  }

  private static ClientFrame setRole(String requestId, String groupId, String member, String role) {
    return ClientFrame.newBuilder()
        .setSetRole(SetRole.newBuilder().setRequestId(requestId).setGroupId(groupId).setMember(member).setRole(role))
        .build();
  }

  private static ClientFrame send(String clientMsgId, String groupId, String text) {
    return ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setTo(stream(groupId)).setText(text)).build();
  }

  /** Posts {@code text} with clientMsgId {@code text} and waits for its acceptance. */
  private static ServerFrame post(WsClient c, String text, String groupId) {
    c.send(send(text, groupId, text));
    return c.expectAccepted(text);
  }

  private static SystemItem expectSystem(WsClient c, String groupId, SystemKind kind) {
    return c.expect(f -> f.hasSystem() && f.getSystem().getKind() == kind && f.getSystem().getStream().equals(stream(groupId)), kind + " in " + groupId)
        .getSystem();
  }

  /** Posts by their text, system items by their kind. */
  private static List<String> describe(List<StreamItem> items) {
    return items.stream().map(i -> i.hasMessage() ? i.getMessage().getText() : i.getSystem().getKind().name()).toList();
  }

  private static long seqOf(StreamItem item) {
    return item.hasMessage() ? item.getMessage().getSeq() : item.getSystem().getSeq();
  }
}
