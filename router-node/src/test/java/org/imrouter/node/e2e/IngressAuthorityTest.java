package org.imrouter.node.e2e;

import static org.imrouter.node.testkit.IngressCalls.await;
import static org.imrouter.node.testkit.IngressCalls.backendJwt;
import static org.imrouter.node.testkit.IngressCalls.bearer;
import static org.imrouter.node.testkit.IngressCalls.errorCode;
import static org.imrouter.node.testkit.IngressCalls.failure;
import static org.imrouter.node.testkit.IngressCalls.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.javadsl.Sink;
import org.imrouter.node.testkit.IngressCalls;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.protocol.v1.CreateGroupRequest;
import org.imrouter.protocol.v1.GetHistoryRequest;
import org.imrouter.protocol.v1.GetStreamInfoRequest;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.IngressClient;
import org.imrouter.protocol.v1.Member;
import org.imrouter.protocol.v1.MembersRequest;
import org.imrouter.protocol.v1.PublishRequest;
import org.imrouter.protocol.v1.SetRoleRequest;
import org.imrouter.protocol.v1.StreamInfoReply;
import org.imrouter.protocol.v1.SubscribeRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The authority model of the gRPC ingress as one table: every RPC × identity × pattern, each row
 * with the outcome it must have. Identities: the default backend (everything), a configured
 * backend bounded to "crm" names, a backend JWT without pattern claims (only "system:<sub>",
 * nothing to read or manage), a backend JWT with act_as/may_read/may_manage claims, and a
 * configured read-only backend. A private group none of the bounded identities may touch must
 * come out of the table exactly as the rows that were allowed left it.
 */
class IngressAuthorityTest {
  private static final String OK = "OK";
  private static final String FORBIDDEN = "FORBIDDEN";
  private static final String NOT_A_MEMBER = "NOT_A_MEMBER";

  private static final String CRM_TOKEN = "crm-token-authority-1";
  private static final String READER_TOKEN = "reader-token-authority-1";
  /** Calls (not publishes) per backend: a burst the table stays within, refilled slowly. */
  private static final int CALL_BURST = 40;
  private static final int CALLS_PER_SECOND = 1;
  /** The private group: owner "victim", member "victim-m". */
  private static final String PRIVATE = "priv-g";

  private static RouterTestNode node;
  private static IngressClient client;
  private static Map<String, String> tokens;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "ingress_authority",
            Map.of(
                "router.grpc.calls-per-second", CALLS_PER_SECOND,
                "router.grpc.call-burst", CALL_BURST,
                "router.grpc.backends",
                List.of(
                    Map.of(
                        "name", "crm",
                        "token-sha256", sha256(CRM_TOKEN),
                        "may-act-as", List.of("user:crm-*", "system:crm"),
                        "may-read", List.of("inbox:crm-*", "group:crm-*"),
                        "may-manage", List.of("group:crm-*")),
                    Map.of(
                        "name", "reader",
                        "token-sha256", sha256(READER_TOKEN),
                        "may-act-as", List.of(),
                        "may-read", List.of("group:*")))));
    client = IngressCalls.client(node);
    tokens =
        Map.of(
            "default", RouterTestNode.BACKEND_TOKEN,
            "crm", CRM_TOKEN,
            "reader", READER_TOKEN,
            "jwt-bare", backendJwt("bare", "backend", null, null, null),
            "jwt-bot", backendJwt("bot", "backend", List.of("system:bot"), List.of("group:bot-*"), List.of("group:bot-*")));
    String admin = RouterTestNode.BACKEND_TOKEN;
    await(create(admin, PRIVATE, "user:victim", List.of("victim-m")));
    await(create(admin, "crm-g", "user:crm-owner", List.of("crm-m", "crm-p")));
    await(create(admin, "bot-g", "user:u-owner", List.of("u-m")));
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().join();
    node.close();
  }

  /** One call: {@code identity} does {@code rpc} on {@code target} as {@code as}; {@code expect} OK or an error code. */
  private record Row(String identity, String rpc, String target, String as, String expect) {}

  private static final List<Row> TABLE =
      List.of(
          // the default backend may do everything (these change nothing but one post)
          new Row("default", "publish", "group:" + PRIVATE, "system:ops", OK),
          new Row("default", "addMembers", PRIVATE, "system:ops", OK),
          new Row("default", "setRole", PRIVATE, "system:ops", OK),
          new Row("default", "getHistory", "group:" + PRIVATE, "", OK),
          // a configured backend: its system sender manages only crm-* groups ...
          new Row("crm", "publish", "group:crm-g", "system:crm", OK),
          new Row("crm", "addMembers", "crm-g", "system:crm", OK),
          new Row("crm", "setRole", "crm-g", "system:crm", OK),
          new Row("crm", "publish", "group:" + PRIVATE, "system:crm", FORBIDDEN),
          new Row("crm", "addMembers", PRIVATE, "system:crm", FORBIDDEN),
          new Row("crm", "removeMembers", PRIVATE, "system:crm", FORBIDDEN),
          new Row("crm", "setRole", PRIVATE, "system:crm", FORBIDDEN),
          // ... acting as a user it has that user's rights, no more
          new Row("crm", "publish", "group:" + PRIVATE, "user:crm-owner", NOT_A_MEMBER),
          new Row("crm", "addMembers", PRIVATE, "user:crm-owner", NOT_A_MEMBER),
          new Row("crm", "addMembers", "crm-g", "user:crm-p", FORBIDDEN),
          new Row("crm", "setRole", "crm-g", "user:crm-m", FORBIDDEN),
          new Row("crm", "setRole", "crm-g", "user:crm-owner", OK),
          new Row("crm", "createGroup", "crm-new", "user:crm-owner", OK),
          // ... and never as anyone its patterns do not name
          new Row("crm", "addMembers", "crm-g", "system:other", FORBIDDEN),
          new Row("crm", "createGroup", "x-new", "user:victim", FORBIDDEN),
          new Row("crm", "publish", "user:victim", "system:crm", OK),
          new Row("crm", "publish", "user:victim", "system:billing", FORBIDDEN),
          // it reads only what may-read names
          new Row("crm", "getHistory", "group:crm-g", "", OK),
          new Row("crm", "getHistory", "group:" + PRIVATE, "", FORBIDDEN),
          new Row("crm", "getHistory", "inbox:victim", "", FORBIDDEN),
          new Row("crm", "getStreamInfo", "group:" + PRIVATE, "", FORBIDDEN),
          new Row("crm", "subscribe", "group:" + PRIVATE, "", FORBIDDEN),
          // a backend JWT without claims: "system:bare" to users' inboxes, nothing else
          new Row("jwt-bare", "publish", "user:someone", "system:bare", OK),
          new Row("jwt-bare", "publish", "group:" + PRIVATE, "system:bare", FORBIDDEN),
          new Row("jwt-bare", "addMembers", PRIVATE, "system:bare", FORBIDDEN),
          new Row("jwt-bare", "removeMembers", PRIVATE, "system:bare", FORBIDDEN),
          new Row("jwt-bare", "setRole", PRIVATE, "system:bare", FORBIDDEN),
          new Row("jwt-bare", "createGroup", "bare-g", "user:bare", FORBIDDEN),
          new Row("jwt-bare", "publish", "user:someone", "system:ops", FORBIDDEN),
          new Row("jwt-bare", "getHistory", "group:" + PRIVATE, "", FORBIDDEN),
          new Row("jwt-bare", "getStreamInfo", "inbox:someone", "", FORBIDDEN),
          // a backend JWT with claims: exactly what they grant
          new Row("jwt-bot", "publish", "group:bot-g", "system:bot", OK),
          new Row("jwt-bot", "addMembers", "bot-g", "system:bot", OK),
          new Row("jwt-bot", "removeMembers", "bot-g", "system:bot", OK),
          new Row("jwt-bot", "getHistory", "group:bot-g", "", OK),
          new Row("jwt-bot", "subscribe", "group:bot-g", "", OK),
          new Row("jwt-bot", "publish", "group:" + PRIVATE, "system:bot", FORBIDDEN),
          new Row("jwt-bot", "addMembers", PRIVATE, "system:bot", FORBIDDEN),
          new Row("jwt-bot", "getHistory", "group:" + PRIVATE, "", FORBIDDEN),
          // a read-only backend reads and does nothing else
          new Row("reader", "getHistory", "group:" + PRIVATE, "", OK),
          new Row("reader", "getStreamInfo", "group:" + PRIVATE, "", OK),
          new Row("reader", "publish", "group:" + PRIVATE, "system:reader", FORBIDDEN),
          new Row("reader", "addMembers", PRIVATE, "system:reader", FORBIDDEN));

  @Test
  void everyRpcAndIdentityIsBoundedByItsPatterns() {
    List<String> wrong = new ArrayList<>();
    for (Row row : TABLE) {
      String outcome = outcome(call(row));
      if (!outcome.equals(row.expect())) {
        wrong.add(row + " gave " + outcome);
      }
    }
    assertEquals(List.of(), wrong);

    // the private group is as the allowed rows left it: same members and roles, one post
    StreamInfoReply info = await(info(RouterTestNode.BACKEND_TOKEN, "group:" + PRIVATE));
    Map<String, String> roles = new LinkedHashMap<>();
    for (Member m : info.getMembersList()) {
      roles.put(m.getUser(), m.getRole());
    }
    assertEquals(Map.of("victim", "OWNER", "victim-m", "MEMBER"), roles);
    History history =
        await(client.getHistory().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN))
            .invoke(GetHistoryRequest.newBuilder().setStream("group:" + PRIVATE).build()));
    assertEquals(2, history.getItemsCount(), "CREATED and the default backend's post");
    assertTrue(history.getItems(1).getMessage().getFrom().equals("system:ops"));
  }

  @Test
  void aBackendWakesAtMostItsCallBudgetOfEntities() {
    String flooder = backendJwt("flooder", "backend", List.of(), List.of("group:*"), null);
    int calls = 3 * CALL_BURST;
    long started = System.nanoTime();
    List<CompletionStage<StreamInfoReply>> flood = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      flood.add(info(flooder, "group:unknown-" + i)); // each one would wake a group entity
    }
    Map<String, Integer> outcomes = new java.util.TreeMap<>();
    flood.forEach(c -> outcomes.merge(outcome(c), 1, Integer::sum));
    long seconds = java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started) + 1;
    int woken = outcomes.getOrDefault("NOT_FOUND", 0);
    assertEquals(calls, woken + outcomes.getOrDefault("RATE_LIMITED", 0), outcomes::toString);
    assertTrue(woken >= CALL_BURST && woken <= CALL_BURST + CALLS_PER_SECOND * seconds, outcomes::toString);
    // other backends have budgets of their own
    assertEquals(OK, outcome(info(RouterTestNode.BACKEND_TOKEN, "group:" + PRIVATE)));
  }

  // ------------------------------------------------------------------ calls

  private static String outcome(CompletionStage<?> call) {
    try {
      await(call);
      return OK;
    } catch (AssertionError e) {
      return errorCode(failure(call));
    }
  }

  private static CompletionStage<?> call(Row row) {
    String auth = bearer(tokens.get(row.identity()));
    String key = "k-" + row.hashCode();
    return switch (row.rpc()) {
      case "publish" -> client.publish().addHeader("authorization", auth)
          .invoke(PublishRequest.newBuilder().setTo(row.target()).setAs(row.as()).setIdempotencyKey(key).setText("t").build());
      case "createGroup" -> create(tokens.get(row.identity()), row.target(), row.as(), List.of());
      case "addMembers" -> client.addMembers().addHeader("authorization", auth)
          .invoke(MembersRequest.newBuilder().setGroupId(row.target()).setAs(row.as()).addMembers(memberOf(row.target())).build());
      case "removeMembers" -> client.removeMembers().addHeader("authorization", auth)
          .invoke(MembersRequest.newBuilder().setGroupId(row.target()).setAs(row.as()).addMembers("not-" + memberOf(row.target())).build());
      case "setRole" -> client.setRole().addHeader("authorization", auth)
          .invoke(SetRoleRequest.newBuilder().setGroupId(row.target()).setAs(row.as()).setMember(memberOf(row.target())).setRole("MEMBER").build());
      case "getHistory" -> client.getHistory().addHeader("authorization", auth)
          .invoke(GetHistoryRequest.newBuilder().setStream(row.target()).build());
      case "getStreamInfo" -> info(tokens.get(row.identity()), row.target());
      case "subscribe" -> client.subscribe().addHeader("authorization", auth)
          .invoke(SubscribeRequest.newBuilder().setStream(row.target()).build())
          .take(1)
          .runWith(Sink.seq(), node.system());
      default -> throw new IllegalArgumentException(row.rpc());
    };
  }

  /**
   * A plain member of the group: adding them again, removing a non-member and giving them the
   * role they have are allowed or refused on rights alone and change nothing.
   */
  private static String memberOf(String group) {
    return switch (group) {
      case PRIVATE -> "victim-m";
      case "crm-g" -> "crm-p";
      case "bot-g" -> "u-m";
      default -> throw new IllegalArgumentException(group);
    };
  }

  private static CompletionStage<?> create(String token, String group, String as, List<String> members) {
    return client.createGroup().addHeader("authorization", bearer(token))
        .invoke(CreateGroupRequest.newBuilder().setGroupId(group).setAs(as).setTitle(group).addAllMembers(members).build());
  }

  private static CompletionStage<StreamInfoReply> info(String token, String stream) {
    return client.getStreamInfo().addHeader("authorization", bearer(token))
        .invoke(GetStreamInfoRequest.newBuilder().setStream(stream).build());
  }
}
