package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.CreateGroup;
import org.imrouter.protocol.v1.SystemItem;
import org.imrouter.protocol.v1.SystemKind;

/**
 * Creates one group of connected sessions and waits until every member's inbox has said
 * ADDED_TO_GROUP: only then does the server push the group's posts to that member, so a ladder
 * that started earlier would count the first posts as lost. Listen to the sessions from their
 * connect on (it is a {@link SessionListener}), then call {@link #create}.
 */
final class GroupSetup implements SessionListener {
  /** A group ready for posts: its stream name, its members, and them as an audience. */
  record Group(String stream, List<ClientSession> members, Audience audience) {}

  private final String groupId;
  private final String stream;
  private final Map<String, CompletableFuture<Void>> joined = new ConcurrentHashMap<>();

  GroupSetup(String groupId) {
    this.groupId = groupId;
    this.stream = "group:" + groupId;
  }

  String stream() {
    return stream;
  }

  @Override
  public void onSystem(ClientSession session, SystemItem item, long nowNanos) {
    if (item.getKind() == SystemKind.ADDED_TO_GROUP && item.getGroup().equals(stream)) {
      joined(session).complete(null);
    }
  }

  private CompletableFuture<Void> joined(ClientSession session) {
    return joined.computeIfAbsent(session.id(), id -> new CompletableFuture<>());
  }

  /** The first member creates the group with all the others; returns once all have joined. */
  Group create(List<ClientSession> members, Duration timeout) throws Exception {
    ClientSession creator = members.get(0);
    String requestId = "create-" + groupId;
    ClientFrame frame =
        ClientFrame.newBuilder()
            .setCreateGroup(
                CreateGroup.newBuilder()
                    .setRequestId(requestId)
                    .setGroupId(groupId)
                    .setTitle("load test " + groupId)
                    .addAllMembers(members.subList(1, members.size()).stream().map(ClientSession::user).toList()))
            .build();
    creator.request(requestId, frame).toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    CompletableFuture.allOf(members.stream().map(this::joined).toArray(CompletableFuture[]::new))
        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return new Group(stream, List.copyOf(members), Audience.of(members));
  }
}
