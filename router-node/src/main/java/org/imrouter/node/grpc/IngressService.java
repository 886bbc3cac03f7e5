package org.imrouter.node.grpc;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.stream.javadsl.Source;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.delivery.TokenBucket;
import org.imrouter.node.group.GroupEntity;
import org.imrouter.node.metrics.RouterMetrics;
import org.imrouter.node.stream.ContentBounds;
import org.imrouter.node.stream.ErrorCode;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StorageHealth;
import org.imrouter.node.user.UserEntity;
import org.imrouter.persistence.HistoryReader;
import org.imrouter.protocol.v1.CreateGroupRequest;
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.GetHistoryRequest;
import org.imrouter.protocol.v1.GetStreamInfoRequest;
import org.imrouter.protocol.v1.GroupReply;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.IngressPowerApi;
import org.imrouter.protocol.v1.Member;
import org.imrouter.protocol.v1.MembersRequest;
import org.imrouter.protocol.v1.PublishBatchReply;
import org.imrouter.protocol.v1.PublishBatchRequest;
import org.imrouter.protocol.v1.PublishReply;
import org.imrouter.protocol.v1.PublishRequest;
import org.imrouter.protocol.v1.PublishResult;
import org.imrouter.protocol.v1.SetRoleRequest;
import org.imrouter.protocol.v1.StreamInfoReply;
import org.imrouter.protocol.v1.StreamItem;
import org.imrouter.protocol.v1.SubscribeRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code im.v1.Ingress}: what backends do, mapped onto the same entities, guarantees and limits
 * as the WebSocket path. Every call is authenticated first; a backend acts only as the
 * identities its configuration allows. Failures are {@link IngressError}s (gRPC status + the
 * stable error code).
 */
public final class IngressService implements IngressPowerApi {
  private static final Logger log = LoggerFactory.getLogger(IngressService.class);

  private static final int MAX_KEY_LENGTH = 128;
  private static final String DEFAULT_CONTENT_TYPE = "text/plain";
  /** Group reads and subscriptions are made as this trusted identity. */
  private static final String READER = Ids.SYSTEM_PREFIX + "ingress";

  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final RouterSettings settings;
  private final Duration timeout;
  private final BackendAuth auth;
  private final StreamReader reader;
  private final Subscriptions subscriptions;
  /**
   * Per backend and budget, a token bucket: publishes (each batch item counts) are the
   * throughput path; every other call wakes an entity or reads storage, so it has a budget of
   * its own (a backend naming thousands of unknown groups wakes at most that many per second).
   */
  private final Map<String, TokenBucket> limiters = new ConcurrentHashMap<>();

  private enum Budget {
    PUBLISH,
    CALL
  }

  public IngressService(
      ActorSystem<?> system, ClusterSharding sharding, RouterSettings settings, JwtVerifier jwt, HistoryReader journal) {
    this.system = system;
    this.sharding = sharding;
    this.settings = settings;
    this.timeout = settings.session().askTimeout();
    this.auth = new BackendAuth(settings.grpc(), jwt);
    this.reader = new StreamReader(system, sharding, journal, timeout, READER, settings.limits().syncMaxBytes());
    this.subscriptions =
        new Subscriptions(system, sharding, reader, settings.grpc().subscribeBuffer(), settings.grpc().pageSize());
  }

  // ------------------------------------------------------------------ publish

  @Override
  public CompletionStage<PublishReply> publish(PublishRequest in, Metadata metadata) {
    return withBackend(metadata, backend -> publishAs(backend, in));
  }

  @Override
  public CompletionStage<PublishBatchReply> publishBatch(PublishBatchRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          if (in.getItemsCount() > settings.grpc().maxBatch()) {
            throw IngressError.of(ErrorCode.TOO_LARGE, "at most " + settings.grpc().maxBatch() + " items per batch");
          }
          List<CompletableFuture<PublishResult>> results = new ArrayList<>();
          for (PublishRequest item : in.getItemsList()) {
            results.add(
                started(() -> publishAs(backend, item))
                    .handle((ok, failure) -> failure == null
                        ? PublishResult.newBuilder().setAccepted(ok).build()
                        : PublishResult.newBuilder().setError(errorOf(failure)).build())
                    .toCompletableFuture());
          }
          return CompletableFuture.allOf(results.toArray(CompletableFuture[]::new))
              .thenApply(done -> PublishBatchReply.newBuilder().addAllResults(results.stream().map(CompletableFuture::join).toList()).build());
        });
  }

  private CompletionStage<PublishReply> publishAs(BackendAuth.Backend backend, PublishRequest in) {
    String key = in.getIdempotencyKey();
    if (key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
      throw IngressError.of(ErrorCode.BAD_FRAME, "idempotency_key is required (at most " + MAX_KEY_LENGTH + " characters)");
    }
    var target = Ids.parseTarget(in.getTo());
    if (target.isEmpty()) {
      throw IngressError.of(ErrorCode.BAD_FRAME, "'to' must be user:<id> or group:<id>");
    }
    Sender sender = sender(in.getAs());
    if (!backend.mayActAs(in.getAs())) {
      throw IngressError.of(ErrorCode.FORBIDDEN, "backend " + backend.name() + " may not act as " + in.getAs());
    }
    String contentType = in.getContentType().isEmpty() ? DEFAULT_CONTENT_TYPE : in.getContentType();
    ContentBounds.message(settings.limits(), contentType, in.getText(), in.getPayload().size())
        .ifPresent(v -> {
          throw IngressError.of(v.code(), v.message());
        });
    charge(backend, Budget.PUBLISH);
    if (StorageHealth.get(system).failing()) { // an entity could not write it; answered now, not at the timeout
      throw IngressError.of(ErrorCode.UNAVAILABLE, StorageHealth.REFUSAL);
    }
    byte[] payload = in.getPayload().toByteArray();
    CompletionStage<Reply> reply;
    String stream;
    if (target.get().kind() == Ids.Address.Kind.GROUP) {
      if (sender.isSystem()) {
        requireManage(backend, target.get().id());
      }
      stream = in.getTo();
      String from = sender.isSystem() ? in.getAs() : sender.id();
      reply = ask(sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, target.get().id()),
          r -> new GroupEntity.Post(from, key, contentType, in.getText(), payload, r));
    } else if (sender.isSystem()) {
      stream = BackendStream.INBOX_PREFIX + target.get().id();
      reply = ask(sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, target.get().id()),
          r -> new UserEntity.SystemMessage(in.getAs(), key, contentType, in.getText(), payload, r));
    } else {
      stream = BackendStream.INBOX_PREFIX + sender.id();
      reply = ask(sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, sender.id()),
          r -> new UserEntity.SendDirect(key, in.getTo(), contentType, in.getText(), payload, r));
    }
    return reply.thenApply(
        r -> {
          Reply.Accepted a = accepted(r);
          RouterMetrics.accepted(target.get().kind() == Ids.Address.Kind.GROUP ? "group" : "direct");
          return PublishReply.newBuilder().setStream(stream).setSeq(a.seq()).setMsgId(a.msgId()).setTs(a.ts()).build();
        });
  }

  /** Takes a token of {@code budget} from the backend's bucket, or refuses the call RATE_LIMITED. */
  private void charge(BackendAuth.Backend backend, Budget budget) {
    RouterSettings.Grpc grpc = settings.grpc();
    boolean publish = budget == Budget.PUBLISH;
    int perSecond = publish ? grpc.publishesPerSecond() : grpc.callsPerSecond();
    TokenBucket limiter =
        limiters.computeIfAbsent(
            backend.name() + "/" + budget,
            n -> new TokenBucket(perSecond, publish ? grpc.publishBurst() : grpc.callBurst(), System::nanoTime));
    synchronized (limiter) {
      if (!limiter.tryAcquire()) {
        throw IngressError.of(
            ErrorCode.RATE_LIMITED, "more than " + perSecond + (publish ? " publishes" : " calls") + " per second");
      }
    }
  }

  /** "user:X" or "system:N". */
  private record Sender(boolean isSystem, String id) {}

  private static Sender sender(String as) {
    if (Ids.isSystem(as)) {
      return new Sender(true, as.substring(Ids.SYSTEM_PREFIX.length()));
    }
    var user = Ids.parseTarget(as);
    if (user.isPresent() && user.get().kind() == Ids.Address.Kind.USER) {
      return new Sender(false, user.get().id());
    }
    throw IngressError.of(ErrorCode.BAD_FRAME, "'as' must be user:<id> or system:<name>");
  }

  // ------------------------------------------------------------------ groups

  @Override
  public CompletionStage<GroupReply> createGroup(CreateGroupRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          Sender actor = groupActor(backend, in.getGroupId(), in.getAs());
          if (actor.isSystem()) {
            throw IngressError.of(ErrorCode.BAD_FRAME, "a group is created as the user who will own it");
          }
          ContentBounds.title(settings.limits(), in.getTitle())
              .ifPresent(v -> {
                throw IngressError.of(v.code(), v.message());
              });
          return groupOp(backend, in.getGroupId(), r -> new GroupEntity.Create(actor.id(), in.getTitle(), in.getMembersList(), r));
        });
  }

  @Override
  public CompletionStage<GroupReply> addMembers(MembersRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          String actor = actorId(groupActor(backend, in.getGroupId(), in.getAs()), in.getAs());
          return groupOp(backend, in.getGroupId(), r -> new GroupEntity.AddMembers(actor, in.getMembersList(), r));
        });
  }

  @Override
  public CompletionStage<GroupReply> removeMembers(MembersRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          String actor = actorId(groupActor(backend, in.getGroupId(), in.getAs()), in.getAs());
          return groupOp(backend, in.getGroupId(), r -> new GroupEntity.RemoveMembers(actor, in.getMembersList(), r));
        });
  }

  @Override
  public CompletionStage<GroupReply> setRole(SetRoleRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          String actor = actorId(groupActor(backend, in.getGroupId(), in.getAs()), in.getAs());
          var role = GroupEntity.role(in.getRole());
          if (role.isEmpty() || !Ids.isValid(in.getMember())) {
            throw IngressError.of(ErrorCode.BAD_FRAME, "set_role needs a member id and a role: MEMBER, ADMIN or OWNER");
          }
          return groupOp(backend, in.getGroupId(), r -> new GroupEntity.SetRole(actor, in.getMember(), role.get(), r));
        });
  }

  /**
   * The actor of a group operation, once the backend may act as it. A system actor manages only
   * the groups the backend's may-manage patterns grant; a user actor has that user's role.
   */
  private Sender groupActor(BackendAuth.Backend backend, String groupId, String as) {
    if (!Ids.isValid(groupId)) {
      throw IngressError.of(ErrorCode.BAD_FRAME, "group_id must be 1-64 characters of [A-Za-z0-9._@-]");
    }
    Sender actor = sender(as);
    if (!backend.mayActAs(as)) {
      throw IngressError.of(ErrorCode.FORBIDDEN, "backend " + backend.name() + " may not act as " + as);
    }
    if (actor.isSystem()) {
      requireManage(backend, groupId);
    }
    return actor;
  }

  private static void requireManage(BackendAuth.Backend backend, String groupId) {
    if (!backend.mayManage(Ids.groupStream(groupId))) {
      throw IngressError.of(ErrorCode.FORBIDDEN, "backend " + backend.name() + " may not manage group " + groupId);
    }
  }

  /** The entity's actor id: a user's id, or the whole "system:N" (which entities trust). */
  private static String actorId(Sender sender, String as) {
    return sender.isSystem() ? as : sender.id();
  }

  private CompletionStage<GroupReply> groupOp(
      BackendAuth.Backend backend, String groupId, Function<ActorRef<Reply>, GroupEntity.Command> command) {
    charge(backend, Budget.CALL);
    return ask(sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, groupId), command)
        .thenApply(
            r -> {
              if (r instanceof Reply.Rejection rej) {
                throw IngressError.of(rej.code(), rej.message());
              }
              return GroupReply.newBuilder().setGroupId(groupId).build();
            });
  }

  // ------------------------------------------------------------------ reads

  @Override
  public CompletionStage<History> getHistory(GetHistoryRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          BackendStream stream = readable(backend, in.getStream());
          if (in.getAfterSeq() < 0 || in.getLimit() < 0) {
            throw IngressError.of(ErrorCode.BAD_FRAME, "after_seq and limit must not be negative");
          }
          int cap = settings.grpc().pageSize();
          int limit = in.getLimit() == 0 ? cap : Math.min(in.getLimit(), cap);
          return reader.page(stream, in.getAfterSeq(), limit);
        });
  }

  @Override
  public CompletionStage<StreamInfoReply> getStreamInfo(GetStreamInfoRequest in, Metadata metadata) {
    return withBackend(
        metadata,
        backend -> {
          BackendStream stream = readable(backend, in.getStream());
          if (stream.isInbox()) {
            CompletionStage<Long> lastSeq =
                AskPattern.ask(
                    sharding.entityRefFor(UserEntity.ENTITY_TYPE_KEY, stream.id()),
                    UserEntity.GetLastSeq::new,
                    timeout,
                    system.scheduler());
            return lastSeq.thenApply(seq -> StreamInfoReply.newBuilder().setStream(stream.name()).setLastSeq(seq).build());
          }
          CompletionStage<GroupEntity.Description> description =
              AskPattern.ask(
                  sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, stream.id()),
                  GroupEntity.Describe::new,
                  timeout,
                  system.scheduler());
          return description.thenApply(
              d -> {
                if (!d.exists()) {
                  throw IngressError.of(ErrorCode.NOT_FOUND, "no group " + d.groupId());
                }
                StreamInfoReply.Builder b =
                    StreamInfoReply.newBuilder().setStream(stream.name()).setLastSeq(d.lastSeq()).setTitle(d.title());
                d.members().forEach((user, role) -> b.addMembers(Member.newBuilder().setUser(user).setRole(role.name())));
                return b.build();
              });
        });
  }

  @Override
  public Source<StreamItem, NotUsed> subscribe(SubscribeRequest in, Metadata metadata) {
    Optional<BackendAuth.Backend> backend = auth.authenticate(metadata);
    if (backend.isEmpty()) {
      return Source.failed(IngressError.of(ErrorCode.UNAUTHENTICATED, "missing or invalid backend token"));
    }
    try {
      BackendStream stream = readable(backend.get(), in.getStream());
      if (in.getAfterSeq() < 0) {
        throw IngressError.of(ErrorCode.BAD_FRAME, "after_seq must not be negative");
      }
      if (!stream.isInbox()) {
        // a subscription to a group that does not exist would wait forever: refuse it now
        CompletionStage<Source<StreamItem, NotUsed>> checked =
            AskPattern.<GroupEntity.Command, GroupEntity.Description>ask(
                    sharding.entityRefFor(GroupEntity.ENTITY_TYPE_KEY, stream.id()), GroupEntity.Describe::new, timeout, system.scheduler())
                .handle(
                    (d, failure) -> {
                      if (failure != null) {
                        return Source.<StreamItem>failed(unwrap(failure));
                      }
                      if (!d.exists()) {
                        return Source.<StreamItem>failed(IngressError.of(ErrorCode.NOT_FOUND, "no group " + stream.id()));
                      }
                      return subscriptions.subscribe(stream, in.getAfterSeq());
                    });
        return Source.completionStageSource(checked).mapMaterializedValue(m -> NotUsed.getInstance());
      }
      return subscriptions.subscribe(stream, in.getAfterSeq());
    } catch (RuntimeException e) {
      return Source.failed(unwrap(e));
    }
  }

  private BackendStream readable(BackendAuth.Backend backend, String name) {
    BackendStream stream =
        BackendStream.parse(name).orElseThrow(() -> IngressError.of(ErrorCode.BAD_FRAME, "stream must be inbox:<user> or group:<id>"));
    if (!backend.mayRead(stream.name())) {
      throw IngressError.of(ErrorCode.FORBIDDEN, "backend " + backend.name() + " may not read " + stream.name());
    }
    charge(backend, Budget.CALL);
    return stream;
  }

  // ------------------------------------------------------------------ plumbing

  private <T> CompletionStage<T> withBackend(Metadata metadata, Function<BackendAuth.Backend, CompletionStage<T>> call) {
    Optional<BackendAuth.Backend> backend = auth.authenticate(metadata);
    if (backend.isEmpty()) {
      return CompletableFuture.failedFuture(IngressError.of(ErrorCode.UNAUTHENTICATED, "missing or invalid backend token"));
    }
    return started(() -> call.apply(backend.get())).exceptionallyCompose(t -> CompletableFuture.failedFuture(unwrap(t)));
  }

  /** Runs {@code call}; a validation exception becomes a failed stage like any other failure. */
  private static <T> CompletionStage<T> started(java.util.function.Supplier<CompletionStage<T>> call) {
    try {
      return call.get();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private <T> CompletionStage<Reply> ask(RecipientRef<T> target, Function<ActorRef<Reply>, T> command) {
    return AskPattern.ask(target, command::apply, timeout, system.scheduler());
  }

  private static Reply.Accepted accepted(Reply r) {
    if (r instanceof Reply.Rejection rej) {
      throw IngressError.of(rej.code(), rej.message());
    }
    return (Reply.Accepted) r;
  }

  /** Characters of a random UUID that name an incident in the log and in the answer. */
  private static final int INCIDENT_ID_LENGTH = 8;

  /** Our errors as they are; an ask timeout as UNAVAILABLE (safe to retry); anything else INTERNAL. */
  static Throwable unwrap(Throwable t) {
    Throwable cause = t;
    while ((cause instanceof java.util.concurrent.CompletionException || cause instanceof java.util.concurrent.ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof org.apache.pekko.grpc.GrpcServiceException) {
      return cause;
    }
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return IngressError.of(ErrorCode.UNAVAILABLE, "no answer in time, retry later (with the same idempotency key)");
    }
    // the caller gets an incident id, never the exception's text (class names, paths, data);
    // the log has both
    String incident = java.util.UUID.randomUUID().toString().substring(0, INCIDENT_ID_LENGTH);
    log.error("internal error answered to a backend as incident {}", incident, cause);
    return IngressError.of(ErrorCode.INTERNAL, "internal error, incident " + incident);
  }

  private static Error errorOf(Throwable t) {
    Throwable e = unwrap(t);
    String description = ((org.apache.pekko.grpc.GrpcServiceException) e).getStatus().getDescription();
    int colon = description.indexOf(':');
    return Error.newBuilder()
        .setCode(description.substring(0, colon))
        .setMessage(description.substring(colon + 1).trim())
        .build();
  }
}
