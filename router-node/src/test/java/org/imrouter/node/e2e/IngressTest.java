package org.imrouter.node.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.imrouter.node.testkit.IngressCalls.await;
import static org.imrouter.node.testkit.IngressCalls.backendJwt;
import static org.imrouter.node.testkit.IngressCalls.bearer;
import static org.imrouter.node.testkit.IngressCalls.failure;
import static org.imrouter.node.testkit.IngressCalls.sha256;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.imrouter.node.testkit.IngressCalls;
import org.imrouter.node.testkit.RouterTestNode;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.CreateGroupRequest;
import org.imrouter.protocol.v1.GetHistoryRequest;
import org.imrouter.protocol.v1.GetStreamInfoRequest;
import org.imrouter.protocol.v1.GroupReply;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.IngressClient;
import org.imrouter.protocol.v1.Member;
import org.imrouter.protocol.v1.MembersRequest;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.PublishBatchReply;
import org.imrouter.protocol.v1.PublishBatchRequest;
import org.imrouter.protocol.v1.PublishReply;
import org.imrouter.protocol.v1.PublishRequest;
import org.imrouter.protocol.v1.PublishResult;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamInfoReply;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.SubscribeRequest;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gRPC ingress end to end: the generated Pekko gRPC client against a real node on the real
 * Cassandra. Every RPC's happy path, its errors as gRPC statuses (the status description starts
 * with the stable error code), backend authentication and what a backend may act as and read,
 * idempotent retries, delivery from gRPC to WebSocket clients, and a Subscribe consumer too slow
 * to keep up being ended with RESOURCE_EXHAUSTED while the node stays healthy.
 */
class IngressTest {
  private static final Duration TIMEOUT = IngressCalls.TIMEOUT;
  /** Small, so that GetHistory paging reaches past the in-memory window into the journal. */
  private static final int RECENT_ITEMS = 3;
  /** Small, so that a subscriber that stops reading overflows its live buffer quickly. */
  private static final int SUBSCRIBE_BUFFER = 8;
  /** router.limits.max-text-bytes and max-payload-bytes, the defaults. */
  private static final int MAX_TEXT_BYTES = 64 * 1024;
  private static final int MAX_PAYLOAD_BYTES = 64 * 1024;
  /** router.grpc.max-batch, the default. */
  private static final int MAX_BATCH = 500;
  /** router.limits.max-content-type-bytes and max-title-bytes, the defaults. */
  private static final int MAX_CONTENT_TYPE_BYTES = 255;
  private static final int MAX_TITLE_BYTES = 512;

  /**
   * The slow subscriber's client: a small HTTP/2 window, so that the server feels at once a
   * consumer that stops reading (the default window tunes itself up to megabytes), and a flood of
   * messages many times what the window, the transport's buffers and the live buffer hold.
   */
  private static final int SLOW_WINDOW = 64 * 1024;
  private static final int FLOOD = 200;
  private static final int FLOOD_TEXT_BYTES = 8 * 1024;

  /** A configured backend: may act only as crm-* users and as system:crm, read only crm-* inboxes. */
  private static final String CRM_TOKEN = "crm-backend-token-7f3a";

  private static RouterTestNode node;
  private static IngressClient client;

  @BeforeAll
  static void start() {
    node =
        new RouterTestNode(
            "ingress",
            Map.of(
                "router.entity.recent-items", RECENT_ITEMS,
                "router.grpc.subscribe-buffer", SUBSCRIBE_BUFFER,
                "router.grpc.backends",
                List.of(
                    Map.of(
                        "name", "crm",
                        "token-sha256", sha256(CRM_TOKEN),
                        "may-act-as", List.of("user:crm-*", "system:crm"),
                        "may-read", List.of("inbox:crm-*")))));
    client = IngressCalls.client(node);
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().join();
    node.close();
  }

  // ------------------------------------------------------------------ helpers

  private static PublishRequest request(String to, String as, String key, String text) {
    return PublishRequest.newBuilder().setTo(to).setAs(as).setIdempotencyKey(key).setText(text).build();
  }

  private static CompletionStage<PublishReply> publish(String token, PublishRequest request) {
    return client.publish().addHeader("authorization", bearer(token)).invoke(request);
  }

  private static CompletionStage<PublishReply> publish(String to, String as, String key, String text) {
    return publish(RouterTestNode.BACKEND_TOKEN, request(to, as, key, text));
  }

  private static CompletionStage<GroupReply> createGroup(String token, String group, String as, String title, List<String> members) {
    return client
        .createGroup()
        .addHeader("authorization", bearer(token))
        .invoke(CreateGroupRequest.newBuilder().setGroupId(group).setAs(as).setTitle(title).addAllMembers(members).build());
  }

  private static MembersRequest members(String group, String as, List<String> members) {
    return MembersRequest.newBuilder().setGroupId(group).setAs(as).addAllMembers(members).build();
  }

  private static CompletionStage<GroupReply> addMembers(String token, String group, String as, List<String> members) {
    return client.addMembers().addHeader("authorization", bearer(token)).invoke(members(group, as, members));
  }

  private static CompletionStage<GroupReply> removeMembers(String token, String group, String as, List<String> members) {
    return client.removeMembers().addHeader("authorization", bearer(token)).invoke(members(group, as, members));
  }

  private static CompletionStage<History> history(String token, String stream, long afterSeq, int limit) {
    return client
        .getHistory()
        .addHeader("authorization", bearer(token))
        .invoke(GetHistoryRequest.newBuilder().setStream(stream).setAfterSeq(afterSeq).setLimit(limit).build());
  }

  private static History history(String stream) {
    return await(history(RouterTestNode.BACKEND_TOKEN, stream, 0, 0));
  }

  private static CompletionStage<StreamInfoReply> info(String token, String stream) {
    return client.getStreamInfo().addHeader("authorization", bearer(token)).invoke(GetStreamInfoRequest.newBuilder().setStream(stream).build());
  }

  private static CompletionStage<List<StreamItem>> subscribe(String token, String stream, long afterSeq, int take) {
    return client
        .subscribe()
        .addHeader("authorization", bearer(token))
        .invoke(SubscribeRequest.newBuilder().setStream(stream).setAfterSeq(afterSeq).build())
        .take(take)
        .runWith(Sink.seq(), node.system());
  }

  /** The call failed with {@code code}, and its description starts with the stable {@code errorCode}. */
  private static void assertFails(Status.Code code, String errorCode, CompletionStage<?> call) {
    Status status = failure(call);
    assertEquals(code, status.getCode(), () -> "status " + status);
    assertTrue(
        status.getDescription() != null && status.getDescription().startsWith(errorCode + ": "),
        () -> "description of " + status + " starts with " + errorCode);
  }

  private static List<Message> messages(History h) {
    return h.getItemsList().stream().filter(StreamItem::hasMessage).map(StreamItem::getMessage).toList();
  }

  private static List<Long> seqs(History h) {
    return h.getItemsList().stream().map(i -> i.hasMessage() ? i.getMessage().getSeq() : i.getSystem().getSeq()).toList();
  }

  /** Waits until {@code check} passes (e.g. a transfer to the recipient's inbox has happened). */
  private static void eventually(Runnable check) {
    TestProbe<Object> probe = TestProbe.create(node.system());
    probe.awaitAssert(
        TIMEOUT,
        () -> {
          check.run();
          return null;
        });
  }

  private static Map<String, String> roles(StreamInfoReply info) {
    Map<String, String> roles = new LinkedHashMap<>();
    for (Member m : info.getMembersList()) {
      roles.put(m.getUser(), m.getRole());
    }
    return roles;
  }

  private static WsClient connect(String user) {
    return WsClient.connect(node.wsUri(Tokens.valid(user)));
  }

  // ------------------------------------------------------------------ publish

  @Test
  void publishAsUserIsAcceptedOnTheSendersInboxAndLandsInBothInboxes() {
    PublishReply reply = await(publish("user:pu-bob", "user:pu-alice", "k1", "hello bob"));
    assertEquals("inbox:pu-alice", reply.getStream());
    assertEquals(1, reply.getSeq());
    assertFalse(reply.getMsgId().isEmpty());
    assertTrue(reply.getTs() > 0);

    Message sent = messages(history("inbox:pu-alice")).get(0);
    assertEquals("inbox:pu-alice", sent.getStream());
    assertEquals(1, sent.getSeq());
    assertEquals("pu-alice", sent.getFrom());
    assertEquals("user:pu-bob", sent.getConversation());
    assertEquals("hello bob", sent.getText());
    assertEquals("text/plain", sent.getContentType(), "the default content type");
    assertEquals(reply.getMsgId(), sent.getMsgId());

    eventually(
        () -> {
          List<Message> bob = messages(history("inbox:pu-bob"));
          assertEquals(1, bob.size());
          Message received = bob.get(0);
          assertEquals("inbox:pu-bob", received.getStream());
          assertEquals("pu-alice", received.getFrom());
          assertEquals("user:pu-alice", received.getConversation(), "the other party");
          assertEquals("hello bob", received.getText());
          assertEquals(reply.getMsgId(), received.getMsgId(), "both copies carry the same msgId");
        });

    PublishReply next = await(publish("user:pu-bob", "user:pu-alice", "k2", "again"));
    assertEquals(2, next.getSeq(), "the sender's inbox is gap-free");
    assertNotEquals(reply.getMsgId(), next.getMsgId());
  }

  @Test
  void publishAsSystemLandsInTheRecipientsInboxFromTheSystemSender() {
    ByteString payload = ByteString.copyFromUtf8("{\"invoice\":42}");
    PublishRequest request =
        request("user:ps-carol", "system:billing", "inv-42", "your invoice")
            .toBuilder()
            .setContentType("application/vnd.invoice+json")
            .setPayload(payload)
            .build();
    PublishReply reply = await(publish(RouterTestNode.BACKEND_TOKEN, request));
    assertEquals("inbox:ps-carol", reply.getStream(), "a system message is accepted on the recipient's inbox");
    assertEquals(1, reply.getSeq());

    History carol = history("inbox:ps-carol");
    assertEquals(List.of(1L), seqs(carol));
    Message m = messages(carol).get(0);
    assertEquals("system:billing", m.getFrom());
    assertEquals("system:billing", m.getConversation());
    assertEquals("your invoice", m.getText());
    assertEquals("application/vnd.invoice+json", m.getContentType());
    assertEquals(payload, m.getPayload());
    assertEquals(reply.getMsgId(), m.getMsgId());
    assertEquals(reply.getTs(), m.getTs());
  }

  @Test
  void publishToAGroupAsAMemberAndAsASystemSender() {
    await(createGroup(RouterTestNode.BACKEND_TOKEN, "pg-1", "user:pg-owner", "Ops", List.of("pg-member")));
    PublishReply asMember = await(publish("group:pg-1", "user:pg-member", "m1", "from a member"));
    assertEquals("group:pg-1", asMember.getStream());
    assertEquals(2, asMember.getSeq(), "seq 1 is the CREATED item");
    PublishReply asSystem = await(publish("group:pg-1", "system:announcer", "a1", "from a backend"));
    assertEquals("group:pg-1", asSystem.getStream());
    assertEquals(3, asSystem.getSeq());

    History group = history("group:pg-1");
    assertEquals(List.of(1L, 2L, 3L), seqs(group));
    assertEquals(SystemKind.CREATED, group.getItems(0).getSystem().getKind());
    List<Message> posts = messages(group);
    assertEquals("pg-member", posts.get(0).getFrom());
    assertEquals("group:pg-1", posts.get(0).getConversation());
    assertEquals(asMember.getMsgId(), posts.get(0).getMsgId());
    assertEquals("system:announcer", posts.get(1).getFrom());
    assertEquals("from a backend", posts.get(1).getText());
    assertEquals(asSystem.getMsgId(), posts.get(1).getMsgId());
  }

  @Test
  void publishBatchAnswersEveryItemAndOneBadItemDoesNotSinkTheBatch() {
    await(createGroup(RouterTestNode.BACKEND_TOKEN, "pb-g", "user:pb-owner", "Batch", List.of("pb-member")));
    PublishBatchRequest batch =
        PublishBatchRequest.newBuilder()
            .addItems(request("user:pb-dave", "user:pb-alice", "b1", "one"))
            .addItems(request("pb-dave", "user:pb-alice", "b2", "bad to"))
            .addItems(request("user:pb-dave", "user:pb-alice", "b3", "three"))
            .addItems(request("group:pb-g", "user:pb-stranger", "b4", "not a member"))
            .addItems(request("group:pb-g", "user:pb-member", "b5", "five"))
            .addItems(request("user:pb-dave", "system:pb-bot", "", "no key"))
            .addItems(request("user:pb-dave", "system:pb-bot", "b7", "seven"))
            .build();
    PublishBatchReply reply =
        await(client.publishBatch().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN)).invoke(batch));
    List<PublishResult> results = reply.getResultsList();
    assertEquals(7, results.size(), "one result per item, in order");

    assertEquals("inbox:pb-alice", results.get(0).getAccepted().getStream());
    assertEquals(1, results.get(0).getAccepted().getSeq());
    assertEquals("BAD_FRAME", results.get(1).getError().getCode());
    assertFalse(results.get(1).getError().getMessage().isEmpty());
    assertEquals("inbox:pb-alice", results.get(2).getAccepted().getStream());
    assertEquals(2, results.get(2).getAccepted().getSeq(), "FIFO per sender within a batch");
    assertEquals("NOT_A_MEMBER", results.get(3).getError().getCode());
    assertEquals("group:pb-g", results.get(4).getAccepted().getStream());
    assertEquals(2, results.get(4).getAccepted().getSeq());
    assertEquals("BAD_FRAME", results.get(5).getError().getCode());
    assertEquals("inbox:pb-dave", results.get(6).getAccepted().getStream());

    assertEquals(List.of("one", "three"), messages(history("inbox:pb-alice")).stream().map(Message::getText).toList());
    assertEquals(List.of("five"), messages(history("group:pb-g")).stream().map(Message::getText).toList());
    eventually(
        () ->
            assertEquals(
                List.of("one", "seven", "three"),
                messages(history("inbox:pb-dave")).stream().map(Message::getText).sorted().toList(),
                "only the accepted items reached the recipient"));
  }

  @Test
  void publishBatchAboveTheLimitIsTooLarge() {
    PublishBatchRequest.Builder batch = PublishBatchRequest.newBuilder();
    IntStream.rangeClosed(0, MAX_BATCH).forEach(i -> batch.addItems(request("user:pbl-x", "system:pbl", "k" + i, "t")));
    assertFails(
        Status.Code.INVALID_ARGUMENT,
        "TOO_LARGE",
        client.publishBatch().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN)).invoke(batch.build()));
    assertEquals(0, await(info(RouterTestNode.BACKEND_TOKEN, "inbox:pbl-x")).getLastSeq(), "nothing of it was published");
  }

  // ------------------------------------------------------------------ groups and reads

  @Test
  void createAddAndRemoveMembersShowInStreamInfoHistoryAndInboxes() {
    String token = RouterTestNode.BACKEND_TOKEN;
    GroupReply created = await(createGroup(token, "gm-team", "user:gm-owner", "Team", List.of("gm-a", "gm-b")));
    assertEquals("gm-team", created.getGroupId());
    StreamInfoReply info = await(info(token, "group:gm-team"));
    assertEquals("group:gm-team", info.getStream());
    assertEquals(1, info.getLastSeq());
    assertEquals("Team", info.getTitle());
    assertEquals(Map.of("gm-owner", "OWNER", "gm-a", "MEMBER", "gm-b", "MEMBER"), roles(info));

    await(addMembers(token, "gm-team", "user:gm-owner", List.of("gm-c")));
    await(removeMembers(token, "gm-team", "user:gm-owner", List.of("gm-a")));
    await(addMembers(token, "gm-team", "system:ops", List.of("gm-d"))); // a trusted backend manages any group
    info = await(info(token, "group:gm-team"));
    assertEquals(4, info.getLastSeq());
    assertEquals(Map.of("gm-owner", "OWNER", "gm-b", "MEMBER", "gm-c", "MEMBER", "gm-d", "MEMBER"), roles(info));

    History h = history("group:gm-team");
    assertEquals(List.of(1L, 2L, 3L, 4L), seqs(h));
    SystemItem createdItem = h.getItems(0).getSystem();
    assertEquals(SystemKind.CREATED, createdItem.getKind());
    assertEquals("gm-owner", createdItem.getActor());
    assertEquals("Team", createdItem.getTitle());
    SystemItem added = h.getItems(1).getSystem();
    assertEquals(SystemKind.MEMBER_ADDED, added.getKind());
    assertEquals(List.of("gm-c"), added.getMembersList());
    assertEquals("gm-owner", added.getActor());
    SystemItem removed = h.getItems(2).getSystem();
    assertEquals(SystemKind.MEMBER_REMOVED, removed.getKind());
    assertEquals(List.of("gm-a"), removed.getMembersList());
    assertEquals("system:ops", h.getItems(3).getSystem().getActor());

    eventually(
        () -> {
          List<SystemKind> kinds = history("inbox:gm-a").getItemsList().stream().map(i -> i.getSystem().getKind()).toList();
          assertEquals(List.of(SystemKind.ADDED_TO_GROUP, SystemKind.REMOVED_FROM_GROUP), kinds);
          SystemItem joined = history("inbox:gm-c").getItems(0).getSystem();
          assertEquals(SystemKind.ADDED_TO_GROUP, joined.getKind());
          assertEquals("group:gm-team", joined.getGroup());
          assertEquals("inbox:gm-c", joined.getStream());
        });

    // membership takes effect at the reply: the removed member may no longer post
    assertFails(Status.Code.PERMISSION_DENIED, "NOT_A_MEMBER", publish("group:gm-team", "user:gm-a", "late", "still here?"));
    // a plain member does not manage membership; nobody removes the owner
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", addMembers(token, "gm-team", "user:gm-b", List.of("gm-e")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", removeMembers(token, "gm-team", "user:gm-owner", List.of("gm-owner")));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", addMembers(token, "gm-team", "user:gm-owner", List.of("bad id!")));
    assertEquals(4, await(info(token, "group:gm-team")).getLastSeq(), "refused operations wrote nothing");
  }

  @Test
  void getHistoryPagesBySeqThroughMemoryAndJournal() {
    int count = 7;
    List<PublishReply> replies = new ArrayList<>();
    for (int i = 1; i <= count; i++) {
      replies.add(await(publish("user:gh-erin", "system:pager", "p" + i, "page item " + i)));
    }
    String token = RouterTestNode.BACKEND_TOKEN;
    History first = await(history(token, "inbox:gh-erin", 0, 3));
    assertEquals("inbox:gh-erin", first.getStream());
    assertEquals(List.of(1L, 2L, 3L), seqs(first));
    assertTrue(first.getHasMore());
    History second = await(history(token, "inbox:gh-erin", 3, 3));
    assertEquals(List.of(4L, 5L, 6L), seqs(second));
    assertTrue(second.getHasMore());
    History last = await(history(token, "inbox:gh-erin", 6, 3));
    assertEquals(List.of(7L), seqs(last));
    assertFalse(last.getHasMore());
    History beyond = await(history(token, "inbox:gh-erin", 7, 3));
    assertEquals(0, beyond.getItemsCount());
    assertFalse(beyond.getHasMore());

    List<Message> all = messages(await(history(token, "inbox:gh-erin", 0, 0)));
    assertEquals(count, all.size(), "limit 0 is the default page");
    for (int i = 0; i < count; i++) {
      assertEquals("page item " + (i + 1), all.get(i).getText());
      assertEquals(replies.get(i).getMsgId(), all.get(i).getMsgId());
      assertEquals("inbox:gh-erin", all.get(i).getStream(), "inbox items name whose inbox they are");
    }
    assertEquals(count, await(info(token, "inbox:gh-erin")).getLastSeq());
    assertEquals(0, await(info(token, "inbox:gh-nobody")).getLastSeq(), "every user has an inbox, maybe empty");
    assertEquals("", await(info(token, "inbox:gh-erin")).getTitle());
    assertEquals(0, await(info(token, "inbox:gh-erin")).getMembersCount());
  }

  // ------------------------------------------------------------------ authentication and authorisation

  /** Every RPC, called with the given authorization header value (or none when null). */
  private static List<CompletionStage<?>> everyRpc(String authorization) {
    List<CompletionStage<?>> calls = new ArrayList<>();
    var publish = client.publish();
    var batch = client.publishBatch();
    var create = client.createGroup();
    var add = client.addMembers();
    var remove = client.removeMembers();
    var getHistory = client.getHistory();
    var getInfo = client.getStreamInfo();
    var sub = client.subscribe();
    if (authorization != null) {
      String value = authorization;
      publish = publish.addHeader("authorization", value);
      batch = batch.addHeader("authorization", value);
      create = create.addHeader("authorization", value);
      add = add.addHeader("authorization", value);
      remove = remove.addHeader("authorization", value);
      getHistory = getHistory.addHeader("authorization", value);
      getInfo = getInfo.addHeader("authorization", value);
      sub = sub.addHeader("authorization", value);
    }
    calls.add(publish.invoke(request("user:au-x", "system:au", "k", "t")));
    calls.add(batch.invoke(PublishBatchRequest.newBuilder().addItems(request("user:au-x", "system:au", "k", "t")).build()));
    calls.add(create.invoke(CreateGroupRequest.newBuilder().setGroupId("au-g").setAs("user:au-x").build()));
    calls.add(add.invoke(members("au-g", "user:au-x", List.of("au-y"))));
    calls.add(remove.invoke(members("au-g", "user:au-x", List.of("au-y"))));
    calls.add(getHistory.invoke(GetHistoryRequest.newBuilder().setStream("inbox:au-x").build()));
    calls.add(getInfo.invoke(GetStreamInfoRequest.newBuilder().setStream("inbox:au-x").build()));
    calls.add(sub.invoke(SubscribeRequest.newBuilder().setStream("inbox:au-x").build()).runWith(Sink.seq(), node.system()));
    return calls;
  }

  @Test
  void everyRpcWithoutAValidBackendTokenIsUnauthenticated() {
    List<String> refused =
        java.util.Arrays.asList(
            null, // no header at all
            bearer("wrong-token"),
            bearer(""),
            RouterTestNode.BACKEND_TOKEN, // no "Bearer " scheme
            "Basic " + RouterTestNode.BACKEND_TOKEN,
            bearer(Tokens.valid("au-user")), // a client JWT: no backend scope
            bearer(backendJwt("au-bot", "chat read", null, null, null)), // scopes, but not "backend"
            bearer(Tokens.wrongSignature("au-bot")),
            bearer(
                JWT.create()
                    .withSubject("au-bot")
                    .withClaim("scope", "backend")
                    .withExpiresAt(Instant.now().minus(1, ChronoUnit.HOURS))
                    .sign(Algorithm.HMAC256(Tokens.SECRET.getBytes(StandardCharsets.UTF_8))))); // expired
    for (String authorization : refused) {
      List<CompletionStage<?>> calls = everyRpc(authorization);
      assertEquals(8, calls.size());
      for (CompletionStage<?> call : calls) {
        assertFails(Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED", call);
      }
    }
    assertEquals(0, await(info(RouterTestNode.BACKEND_TOKEN, "inbox:au-x")).getLastSeq(), "nothing was published");
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", info(RouterTestNode.BACKEND_TOKEN, "group:au-g"));
  }

  @Test
  void aConfiguredBackendActsAndReadsOnlyWithinItsPatterns() {
    // within its patterns: allowed
    PublishReply ok = await(publish(CRM_TOKEN, request("user:crm-bob", "user:crm-alice", "c1", "hi")));
    assertEquals("inbox:crm-alice", ok.getStream());
    await(publish(CRM_TOKEN, request("user:outsider", "system:crm", "c2", "notice")));
    assertEquals(1, messages(await(history(CRM_TOKEN, "inbox:crm-alice", 0, 10))).size());
    assertEquals(1, await(info(CRM_TOKEN, "inbox:crm-alice")).getLastSeq());
    await(createGroup(CRM_TOKEN, "crm-g", "user:crm-alice", "CRM", List.of("crm-bob")));

    // outside them: PERMISSION_DENIED, FORBIDDEN
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(CRM_TOKEN, request("user:crm-bob", "system:billing", "c3", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(CRM_TOKEN, request("user:crm-bob", "user:outsider", "c4", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(CRM_TOKEN, request("group:crm-g", "user:outsider", "c5", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", createGroup(CRM_TOKEN, "crm-g2", "user:outsider", "t", List.of()));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", addMembers(CRM_TOKEN, "crm-g", "system:ops", List.of("crm-carol")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", removeMembers(CRM_TOKEN, "crm-g", "user:outsider", List.of("crm-bob")));
    PublishBatchReply batch =
        await(
            client
                .publishBatch()
                .addHeader("authorization", bearer(CRM_TOKEN))
                .invoke(
                    PublishBatchRequest.newBuilder()
                        .addItems(request("user:crm-bob", "system:other", "c6", "x"))
                        .addItems(request("user:crm-bob", "system:crm", "c7", "y"))
                        .build()));
    assertEquals("FORBIDDEN", batch.getResults(0).getError().getCode());
    assertTrue(batch.getResults(1).hasAccepted());

    // reading what it may not: PERMISSION_DENIED
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", history(CRM_TOKEN, "inbox:outsider", 0, 10));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", history(CRM_TOKEN, "group:crm-g", 0, 10));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", info(CRM_TOKEN, "inbox:outsider"));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", info(CRM_TOKEN, "group:crm-g"));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", subscribe(CRM_TOKEN, "inbox:outsider", 0, 1));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", subscribe(CRM_TOKEN, "group:crm-g", 0, 1));

    assertEquals(1, messages(history("inbox:crm-alice")).size(), "refused publishes wrote nothing");
    assertTrue(
        messages(history("inbox:crm-bob")).stream().noneMatch(m -> List.of("system:billing", "system:other").contains(m.getFrom())),
        "refused publishes reached nobody");
    assertEquals(1, await(info(RouterTestNode.BACKEND_TOKEN, "group:crm-g")).getLastSeq());
    assertEquals(2, roles(await(info(RouterTestNode.BACKEND_TOKEN, "group:crm-g"))).size());
  }

  @Test
  void aJwtWithTheBackendScopeActsWithinItsClaims() {
    String jwt = backendJwt("jwt-bot", "read backend", List.of("system:jwt-bot", "user:jwt-*"), List.of("inbox:jwt-*"), null);
    PublishReply bySystem = await(publish(jwt, request("user:jwt-x", "system:jwt-bot", "j1", "from the bot")));
    assertEquals("inbox:jwt-x", bySystem.getStream());
    PublishReply byUser = await(publish(jwt, request("user:jwt-x", "user:jwt-y", "j2", "as a user")));
    assertEquals("inbox:jwt-y", byUser.getStream());
    assertEquals("system:jwt-bot", messages(await(history(jwt, "inbox:jwt-x", 0, 10))).get(0).getFrom());

    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(jwt, request("user:jwt-x", "system:billing", "j3", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(jwt, request("user:jwt-x", "user:other", "j4", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", history(jwt, "inbox:other", 0, 10));

    // without act_as / may_read claims: only itself as a system sender, and no reads
    String bare = backendJwt("bare-bot", "backend", null, null, null);
    assertEquals("inbox:jwt-z", await(publish(bare, request("user:jwt-z", "system:bare-bot", "j5", "hi"))).getStream());
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(bare, request("user:jwt-z", "system:jwt-bot", "j6", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", publish(bare, request("user:jwt-z", "user:jwt-y", "j7", "x")));
    assertFails(Status.Code.PERMISSION_DENIED, "FORBIDDEN", history(bare, "inbox:jwt-z", 0, 10));
  }

  // ------------------------------------------------------------------ error codes

  @Test
  void domainErrorsMapToTheirStatuses() {
    String token = RouterTestNode.BACKEND_TOKEN;
    await(createGroup(token, "er-g", "user:er-owner", "Errors", List.of("er-member")));

    assertFails(Status.Code.PERMISSION_DENIED, "NOT_A_MEMBER", publish("group:er-g", "user:er-stranger", "e1", "let me in"));
    assertFails(Status.Code.ALREADY_EXISTS, "ALREADY_EXISTS", createGroup(token, "er-g", "user:er-other", "again", List.of()));
    assertFails(Status.Code.ALREADY_EXISTS, "ALREADY_EXISTS", createGroup(token, "er-g", "user:er-owner", "again", List.of()));

    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", publish("group:er-none", "user:er-owner", "e2", "hello?"));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", publish("group:er-none", "system:er", "e3", "hello?"));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", addMembers(token, "er-none", "user:er-owner", List.of("x")));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", removeMembers(token, "er-none", "system:er", List.of("x")));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", history(token, "group:er-none", 0, 10));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", info(token, "group:er-none"));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", subscribe(token, "group:er-none", 0, 1));

    assertEquals(1, await(info(token, "group:er-g")).getLastSeq(), "nothing was written to the group");
    assertEquals("Errors", await(info(token, "group:er-g")).getTitle(), "the duplicate create changed nothing");
  }

  @Test
  void badArgumentsAreInvalidArgumentBadFrame() {
    String token = RouterTestNode.BACKEND_TOKEN;
    List<PublishRequest> bad =
        List.of(
            request("user:ba-x", "system:ba", "", "no idempotency key"),
            request("user:ba-x", "system:ba", "k".repeat(129), "key too long"),
            request("ba-x", "system:ba", "k1", "'to' without a kind"),
            request("user:", "system:ba", "k2", "'to' without an id"),
            request("user:ba x", "system:ba", "k3", "'to' outside the id alphabet"),
            request("inbox:ba-x", "system:ba", "k4", "'to' is not a stream"),
            request("system:ba", "system:ba", "k5", "'to' a system sender"),
            request("user:ba-x", "", "k6", "no 'as'"),
            request("user:ba-x", "ba-y", "k7", "'as' without a kind"),
            request("user:ba-x", "group:ba-g", "k8", "'as' a group"),
            request("user:ba-x", "system:", "k9", "'as' a nameless system"),
            request("user:ba-x", "user:ba/y", "k10", "'as' outside the id alphabet"),
            request("user:ba-x", "system:ba", "k11", ""));
    for (PublishRequest r : bad) {
      assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", publish(token, r));
    }
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", createGroup(token, "bad group", "user:ba-x", "t", List.of()));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", createGroup(token, "ba-g", "system:ba", "t", List.of()));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", createGroup(token, "ba-g", "ba-x", "t", List.of()));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", createGroup(token, "ba-g", "user:ba-x", "t", List.of("not valid")));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", addMembers(token, "", "user:ba-x", List.of("y")));
    for (String stream : List.of("inbox", "ba-x", "user:ba-x", "inbox:", "group:a b")) {
      assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", history(token, stream, 0, 10));
      assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", info(token, stream));
      assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", subscribe(token, stream, 0, 1));
    }
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", history(token, "inbox:ba-x", -1, 10));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", history(token, "inbox:ba-x", 0, -1));
    assertFails(Status.Code.INVALID_ARGUMENT, "BAD_FRAME", subscribe(token, "inbox:ba-x", -1, 1));

    assertEquals(0, await(info(token, "inbox:ba-x")).getLastSeq(), "nothing was published");
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", info(token, "group:ba-g"));
  }

  @Test
  void textOrPayloadAboveTheLimitIsTooLarge() {
    String token = RouterTestNode.BACKEND_TOKEN;
    assertFails(
        Status.Code.INVALID_ARGUMENT, "TOO_LARGE", publish("user:tl-x", "system:tl", "t1", "x".repeat(MAX_TEXT_BYTES + 1)));
    // the limit is in UTF-8 bytes, not characters
    assertFails(Status.Code.INVALID_ARGUMENT, "TOO_LARGE", publish("user:tl-x", "system:tl", "t2", "é".repeat(MAX_TEXT_BYTES / 2 + 1)));
    assertFails(
        Status.Code.INVALID_ARGUMENT,
        "TOO_LARGE",
        publish(
            token,
            request("user:tl-x", "system:tl", "t3", "t").toBuilder().setPayload(ByteString.copyFrom(new byte[MAX_PAYLOAD_BYTES + 1])).build()));
    await(createGroup(token, "tl-g", "user:tl-owner", "t", List.of()));
    assertFails(Status.Code.INVALID_ARGUMENT, "TOO_LARGE", publish("group:tl-g", "user:tl-owner", "t4", "x".repeat(MAX_TEXT_BYTES + 1)));

    assertEquals(1, await(publish("user:tl-x", "system:tl", "t5", "x".repeat(MAX_TEXT_BYTES))).getSeq(), "exactly the limit is fine");
    assertEquals(1, await(info(token, "inbox:tl-x")).getLastSeq(), "only the message at the limit was stored");
  }

  @Test
  void aContentTypeOrGroupTitleAboveTheLimitIsTooLarge() {
    String token = RouterTestNode.BACKEND_TOKEN;
    // 1 byte of text under a huge contentType, and a huge title: both were once stored
    assertFails(
        Status.Code.INVALID_ARGUMENT,
        "TOO_LARGE",
        publish(token, request("user:ct-x", "system:ct", "c1", "t").toBuilder().setContentType("x".repeat(MAX_CONTENT_TYPE_BYTES + 1)).build()));
    assertFails(Status.Code.INVALID_ARGUMENT, "TOO_LARGE", createGroup(token, "ct-g", "user:ct-owner", "é".repeat(MAX_TITLE_BYTES / 2 + 1), List.of()));
    assertFails(Status.Code.NOT_FOUND, "NOT_FOUND", info(token, "group:ct-g"));

    String atLimit = "x".repeat(MAX_CONTENT_TYPE_BYTES);
    PublishReply ok = await(publish(token, request("user:ct-x", "system:ct", "c2", "t").toBuilder().setContentType(atLimit).build()));
    assertEquals(1, ok.getSeq(), "exactly the limit is fine, and the refused one left nothing");
    await(createGroup(token, "ct-g", "user:ct-owner", "x".repeat(MAX_TITLE_BYTES), List.of()));
  }

  // ------------------------------------------------------------------ idempotency

  @Test
  void retryingAnIdempotencyKeyReturnsTheOriginalReplyAndCreatesOneItem() {
    // user -> user: two attempts in flight at once, one after the first was accepted
    List<PublishReply> direct =
        List.of(
                publish("user:id-bob", "user:id-alice", "same", "once"),
                publish("user:id-bob", "user:id-alice", "same", "once"))
            .stream()
            .map(IngressCalls::await)
            .toList();
    PublishReply original = direct.get(0);
    assertEquals(original, direct.get(1));
    assertEquals(original, await(publish("user:id-bob", "user:id-alice", "same", "once")));
    PublishReply next = await(publish("user:id-bob", "user:id-alice", "next", "twice"));
    assertEquals(original.getSeq() + 1, next.getSeq(), "the retries created nothing");
    assertEquals(List.of("once", "twice"), messages(history("inbox:id-alice")).stream().map(Message::getText).toList());
    eventually(
        () -> assertEquals(List.of("once", "twice"), messages(history("inbox:id-bob")).stream().map(Message::getText).toList()));

    // system -> user
    PublishReply system = await(publish("user:id-carol", "system:notify", "n1", "ding"));
    assertEquals(system, await(publish("user:id-carol", "system:notify", "n1", "ding")));
    assertEquals(system, await(publish("user:id-carol", "system:notify", "n1", "ding")));
    // the key is the sender's: another system sender with the same key is another message
    PublishReply other = await(publish("user:id-carol", "system:other", "n1", "dong"));
    assertEquals(system.getSeq() + 1, other.getSeq());
    assertEquals(List.of("ding", "dong"), messages(history("inbox:id-carol")).stream().map(Message::getText).toList());

    // -> group, as a member and as a system sender
    await(createGroup(RouterTestNode.BACKEND_TOKEN, "id-g", "user:id-alice", "Idem", List.of()));
    CompletionStage<PublishReply> p1 = publish("group:id-g", "user:id-alice", "g1", "posted once");
    CompletionStage<PublishReply> p2 = publish("group:id-g", "user:id-alice", "g1", "posted once");
    PublishReply post = await(p1);
    assertEquals(post, await(p2));
    assertEquals(post, await(publish("group:id-g", "user:id-alice", "g1", "posted once")));
    PublishReply sysPost = await(publish("group:id-g", "system:notify", "g1", "system post"));
    assertNotEquals(post.getMsgId(), sysPost.getMsgId(), "the key is per sender");
    assertEquals(sysPost, await(publish("group:id-g", "system:notify", "g1", "system post")));
    assertEquals(List.of(1L, 2L, 3L), seqs(history("group:id-g")), "CREATED and one item per key and sender");

    // a retry inside a batch, and a batch retried as a whole
    PublishBatchRequest batch =
        PublishBatchRequest.newBuilder()
            .addItems(request("user:id-dave", "system:notify", "d1", "batched"))
            .addItems(request("user:id-dave", "system:notify", "d1", "batched"))
            .build();
    PublishBatchReply first =
        await(client.publishBatch().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN)).invoke(batch));
    PublishBatchReply again =
        await(client.publishBatch().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN)).invoke(batch));
    assertEquals(first.getResults(0), first.getResults(1));
    assertEquals(first, again);
    assertEquals(1, history("inbox:id-dave").getItemsCount());
  }

  // ------------------------------------------------------------------ gRPC -> WebSocket

  @Test
  void aUserConnectedOverWebSocketGetsWhatIsPublishedOverGrpcLive() {
    await(createGroup(RouterTestNode.BACKEND_TOKEN, "gw-g", "user:gw-owner", "Live", List.of("gw-x")));
    // the user's entity learns of the membership from the notice; connect once it has
    eventually(() -> assertEquals(SystemKind.ADDED_TO_GROUP, history("inbox:gw-x").getItems(0).getSystem().getKind()));
    try (WsClient x = connect("gw-x"); WsClient y = connect("gw-y")) {
      ServerFrame welcome = x.welcome();
      assertTrue(
          welcome.getWelcome().getStreamsList().stream().anyMatch(s -> s.getStream().equals("group:gw-g")),
          "the welcome lists the group created over gRPC");
      y.welcome();

      PublishReply alert = await(publish("user:gw-x", "system:alerts", "a1", "disk full"));
      Message m = x.expect(f -> f.hasMessage() && f.getMessage().getText().equals("disk full"), "system message").getMessage();
      assertEquals("system:alerts", m.getFrom());
      assertEquals("system:alerts", m.getConversation());
      assertEquals("inbox", m.getStream(), "a client sees its own inbox as 'inbox'");
      assertEquals(alert.getSeq(), m.getSeq());
      assertEquals(alert.getMsgId(), m.getMsgId());

      PublishReply direct = await(publish("user:gw-x", "user:gw-y", "d1", "hi x, from y's backend"));
      Message received = x.expect(f -> f.hasMessage() && f.getMessage().getMsgId().equals(direct.getMsgId()), "direct message").getMessage();
      assertEquals("gw-y", received.getFrom());
      assertEquals("user:gw-y", received.getConversation());
      assertEquals("hi x, from y's backend", received.getText());
      Message own = y.expect(f -> f.hasMessage() && f.getMessage().getMsgId().equals(direct.getMsgId()), "sender's copy").getMessage();
      assertEquals(direct.getSeq(), own.getSeq(), "the sender's sessions get the copy published in its name");
      assertEquals("user:gw-x", own.getConversation());

      PublishReply post = await(publish("group:gw-g", "system:alerts", "g1", "maintenance at noon"));
      Message inGroup = x.expect(f -> f.hasMessage() && f.getMessage().getStream().equals("group:gw-g"), "group post").getMessage();
      assertEquals(post.getSeq(), inGroup.getSeq());
      assertEquals(post.getMsgId(), inGroup.getMsgId());
      assertEquals("system:alerts", inGroup.getFrom());
      PublishReply memberPost = await(publish("group:gw-g", "user:gw-owner", "g2", "from the owner"));
      assertEquals(
          memberPost.getMsgId(),
          x.expect(f -> f.hasMessage() && f.getMessage().getSeq() == memberPost.getSeq() && f.getMessage().getStream().equals("group:gw-g"), "member post")
              .getMessage()
              .getMsgId());
    }
  }

  // ------------------------------------------------------------------ slow subscriber

  /**
   * Random text: the client accepts gzip and the server compresses responses, so repetitive text
   * would shrink to a few hundred bytes and never fill the window.
   */
  private static String incompressible(int length, long seed) {
    byte[] bytes = new byte[length * 3 / 4];
    new Random(seed).nextBytes(bytes);
    return Base64.getEncoder().encodeToString(bytes).substring(0, length);
  }

  @Test
  void aSubscriberThatDoesNotReadIsEndedWithResourceExhaustedAndTheNodeStaysHealthy() throws Exception {
    IngressClient slow =
        IngressClient.create(
            GrpcClientSettings.connectToServiceAt("127.0.0.1", node.grpcPort(), node.system())
                .withTls(false)
                .withChannelBuilderOverrides(b -> b.flowControlWindow(SLOW_WINDOW)),
            node.system());
    try {
      SinkQueueWithCancel<StreamItem> queue =
          slow.subscribe()
              .addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN))
              .invoke(SubscribeRequest.newBuilder().setStream("inbox:slow-sam").build())
              .runWith(Sink.queue(), node.system());
      // the first item proves the subscription is live before the flood
      await(publish("user:slow-sam", "system:flood", "f0", "first"));
      Optional<StreamItem> first = await(queue.pull());
      assertEquals(1, first.orElseThrow().getMessage().getSeq());

      // the consumer stops reading while a flood arrives; the node keeps accepting throughout
      List<CompletableFuture<PublishReply>> flood = new ArrayList<>();
      for (int i = 1; i <= FLOOD; i++) {
        flood.add(publish("user:slow-sam", "system:flood", "f" + i, incompressible(FLOOD_TEXT_BYTES, i)).toCompletableFuture());
      }
      CompletableFuture.allOf(flood.toArray(CompletableFuture[]::new)).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
      assertEquals(FLOOD + 1, await(info(RouterTestNode.BACKEND_TOKEN, "inbox:slow-sam")).getLastSeq());

      // now drain: what was already on its way arrives in order, then the status
      long expected = 2;
      Status ended = null;
      while (ended == null) {
        try {
          Optional<StreamItem> item = queue.pull().toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
          assertTrue(item.isPresent(), "the stream must end with a status, not complete");
          assertEquals(expected, item.get().getMessage().getSeq(), "no gap before the end");
          expected++;
        } catch (ExecutionException e) {
          ended = Status.fromThrowable(e.getCause());
        } catch (TimeoutException e) {
          throw new AssertionError("the subscription stalled after seq " + (expected - 1) + " without ending", e);
        }
      }
      final Status status = ended;
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode(), () -> "status " + status);
      assertTrue(status.getDescription() != null && status.getDescription().contains("resubscribe"), () -> "description of " + status);
      long lastReceived = expected - 1;
      assertTrue(lastReceived < FLOOD + 1, "ended before the flood was delivered: " + lastReceived);

      // healthy: the same connection and the node serve new calls, and a resubscription from the
      // last seq received gets exactly the rest
      assertEquals(FLOOD + 2, await(publish("user:slow-sam", "system:flood", "after", "still here")).getSeq());
      assertEquals(
          FLOOD + 2,
          await(slow.getStreamInfo().addHeader("authorization", bearer(RouterTestNode.BACKEND_TOKEN))
                  .invoke(GetStreamInfoRequest.newBuilder().setStream("inbox:slow-sam").build()))
              .getLastSeq());
      List<StreamItem> rest = await(subscribe(RouterTestNode.BACKEND_TOKEN, "inbox:slow-sam", lastReceived, (int) (FLOOD + 2 - lastReceived)));
      for (int i = 0; i < rest.size(); i++) {
        assertEquals(lastReceived + 1 + i, rest.get(i).getMessage().getSeq());
      }
      assertEquals("still here", rest.get(rest.size() - 1).getMessage().getText());
    } finally {
      slow.close().toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }
  }
}
