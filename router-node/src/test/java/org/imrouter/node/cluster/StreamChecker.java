package org.imrouter.node.cluster;

import org.imrouter.node.testkit.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.node.testkit.WsClient;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamItem;

/**
 * Reads every user's inbox through the client protocol ({@code sync}, paged) and checks it
 * against what the load clients were told ({@code accepted}):
 *
 * <ul>
 *   <li>every inbox is gap-free: seqs 1..N, each msgId once;
 *   <li>each accepted message is in its sender's inbox exactly once, at the accepted seq, with the
 *       accepted msgId, and the sender's inbox has no sent message that was never accepted;
 *   <li>each accepted message is in its recipient's inbox exactly once, and nothing else is;
 *   <li>the messages of one pair are stored, in both inboxes, in the order the sender created
 *       them (FIFO per pair): the order of the numbers n of their clientMsgIds {@code user-n},
 *       not the order of their {@code accepted}, which is the order they were stored in.
 * </ul>
 *
 * It also counts what the table of a fault needs: accepted messages missing from an inbox
 * (lost) and extra copies of a message in an inbox (duplicates).
 *
 * Transfers to recipients are asynchronous: reading waits (with a deadline) until every
 * recipient's inbox holds at least what it should, then checks.
 */
final class StreamChecker {
  private static final int PAGE = 500;
  private static final Duration POLL = Duration.ofMillis(250);
  private static final int MAX_REPORTED = 30;

  private final Supplier<List<String>> endpoints;
  /** accepted messages by sender */
  private final Map<String, List<LoadClient.Ack>> sent = new HashMap<>();
  /** accepted messages by recipient, by msgId */
  private final Map<String, Map<String, Sent>> expectedReceived = new HashMap<>();
  private final List<String> users;
  private final List<String> violations = new ArrayList<>();
  private int lost;
  private int duplicates;

  private record Sent(String from, LoadClient.Ack ack) {}

  StreamChecker(Collection<LoadClient> clients, Collection<String> users, Supplier<List<String>> endpoints) {
    this.endpoints = endpoints;
    this.users = List.copyOf(users);
    for (LoadClient c : clients) {
      List<LoadClient.Ack> acks = new ArrayList<>(c.accepted().values());
      acks.sort(Comparator.comparingLong(LoadClient.Ack::seq));
      sent.put(c.user, acks);
      for (LoadClient.Ack a : acks) {
        if (a.to() == null) {
          violations.add(c.user + ": accepted " + a.clientMsgId() + " without a recorded recipient");
          continue;
        }
        expectedReceived.computeIfAbsent(a.to(), k -> new HashMap<>()).put(a.msgId(), new Sent(c.user, a));
      }
      c.problems().forEach(p -> violations.add("client: " + p));
    }
  }

  long acceptedTotal() {
    return sent.values().stream().mapToLong(List::size).sum();
  }

  /** Accepted messages missing from their sender's or their recipient's inbox (after {@link #check}). */
  int lost() {
    return lost;
  }

  /** Copies of a message beyond the first in one inbox (after {@link #check}). */
  int duplicates() {
    return duplicates;
  }

  /** The number n of a load client's clientMsgId {@code user-n}: the n-th message it created. */
  static long creationNumber(String clientMsgId) {
    return Long.parseLong(clientMsgId.substring(clientMsgId.lastIndexOf('-') + 1));
  }

  /**
   * The messages of {@code inbox} stored after a message of the same pair that their sender
   * created later. {@code pairOf} names the pair a message belongs to; each message's text is its
   * clientMsgId.
   */
  static List<String> outOfCreationOrder(String inbox, List<Message> items, Function<Message, String> pairOf) {
    Map<String, Message> latestCreated = new HashMap<>();
    List<String> found = new ArrayList<>();
    for (Message m : items) {
      String pair = pairOf.apply(m);
      Message before = latestCreated.get(pair);
      if (before != null && creationNumber(m.getText()) < creationNumber(before.getText())) {
        found.add(inbox + ": " + m.getText() + " (seq " + m.getSeq() + ") stored after " + before.getText() + " (seq "
            + before.getSeq() + "), which was created later (" + pair + ")");
      } else {
        latestCreated.put(pair, m);
      }
    }
    return found;
  }

  /** Copies beyond the first of one message (one sender's clientMsgId) among {@code items}. */
  static int extraCopies(List<Message> items) {
    Map<String, Long> copies = items.stream().collect(Collectors.groupingBy(m -> m.getFrom() + " " + m.getText(), Collectors.counting()));
    return (int) copies.values().stream().mapToLong(n -> n - 1).sum();
  }

  /**
   * Waits until every inbox holds what it should (or {@code timeout} passes), then checks them
   * all; returns the violations found (empty: all good).
   */
  List<String> check(Duration timeout) {
    Map<String, InboxReader> readers = new LinkedHashMap<>();
    users.forEach(u -> readers.put(u, new InboxReader(u)));
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      List<String> waitingFor = new ArrayList<>(users);
      while (!waitingFor.isEmpty() && System.nanoTime() < deadline) {
        waitingFor.removeIf(u -> readers.get(u).readMore() && complete(u, readers.get(u).items));
        if (!waitingFor.isEmpty()) {
          Await.step(POLL);
        }
      }
      for (String u : waitingFor) {
        violations.add(u + ": inbox incomplete after " + timeout + " (" + readers.get(u).items.size() + " items, "
            + readers.get(u).lastFailure + ")");
      }
      for (String u : users) {
        verify(u, readers.get(u).items);
      }
    } finally {
      readers.values().forEach(InboxReader::close);
    }
    if (violations.size() > MAX_REPORTED) {
      int more = violations.size() - MAX_REPORTED;
      List<String> shown = new ArrayList<>(violations.subList(0, MAX_REPORTED));
      shown.add("… and " + more + " more");
      return shown;
    }
    return List.copyOf(violations);
  }

  /** Whether the inbox already holds every message accepted from and to this user. */
  private boolean complete(String user, List<Message> items) {
    long sentHere = items.stream().filter(m -> m.getFrom().equals(user)).count();
    long receivedHere = items.stream().filter(m -> !m.getFrom().equals(user)).count();
    return sentHere >= sent.getOrDefault(user, List.of()).size()
        && receivedHere >= expectedReceived.getOrDefault(user, Map.of()).size();
  }

  private void verify(String user, List<Message> items) {
    Map<String, Integer> occurrences = new HashMap<>();
    for (int i = 0; i < items.size(); i++) {
      Message m = items.get(i);
      if (m.getSeq() != i + 1) {
        violations.add(user + ": inbox position " + (i + 1) + " has seq " + m.getSeq() + " (not consecutive)");
      }
      occurrences.merge(m.getMsgId(), 1, Integer::sum);
    }
    occurrences.forEach((msgId, n) -> {
      if (n > 1) {
        violations.add(user + ": msgId " + msgId + " appears " + n + " times in the inbox");
      }
    });
    // the load clients' messages (a system item, which no client sends, is reported above)
    List<Message> messages = items.stream().filter(m -> !m.getFrom().isEmpty()).toList();
    duplicates += extraCopies(messages);

    // the sender's side: each accepted message at its accepted seq, nothing sent that was not accepted
    Map<String, LoadClient.Ack> acceptedById =
        sent.getOrDefault(user, List.of()).stream().collect(Collectors.toMap(LoadClient.Ack::msgId, a -> a, (a, b) -> a));
    for (LoadClient.Ack a : sent.getOrDefault(user, List.of())) {
      if (occurrences.get(a.msgId()) == null) {
        lost++;
      }
      Message at = a.seq() >= 1 && a.seq() <= items.size() ? items.get((int) a.seq() - 1) : null;
      if (at == null || !at.getMsgId().equals(a.msgId())) {
        violations.add(user + ": accepted " + a.clientMsgId() + " (seq " + a.seq() + ", msgId " + a.msgId() + ") is not at its seq: "
            + (at == null ? "no such item" : at.getMsgId() + "/" + at.getText()));
      } else if (!at.getFrom().equals(user) || !at.getConversation().equals("user:" + a.to()) || !at.getText().equals(a.clientMsgId())) {
        violations.add(user + ": accepted " + a.clientMsgId() + " stored as from " + at.getFrom() + " in " + at.getConversation()
            + " text " + at.getText());
      }
    }
    for (Message m : items) {
      if (m.getFrom().equals(user) && !acceptedById.containsKey(m.getMsgId())) {
        violations.add(user + ": sent item seq " + m.getSeq() + " (" + m.getText() + ") was never acknowledged with accepted");
      }
    }

    violations.addAll(outOfCreationOrder(user, messages.stream().filter(m -> m.getFrom().equals(user)).toList(), Message::getConversation));

    // the recipient's side: each message sent to this user once, in each sender's order
    Map<String, Sent> expected = expectedReceived.getOrDefault(user, Map.of());
    for (Message m : items) {
      if (m.getFrom().equals(user)) {
        continue;
      }
      Sent s = expected.get(m.getMsgId());
      if (s == null) {
        violations.add(user + ": received item seq " + m.getSeq() + " from " + m.getFrom() + " (" + m.getText()
            + ") matches no accepted message");
        continue;
      }
      if (!m.getFrom().equals(s.from()) || !m.getConversation().equals("user:" + s.from()) || !m.getText().equals(s.ack().clientMsgId())) {
        violations.add(user + ": received " + m.getMsgId() + " as from " + m.getFrom() + " in " + m.getConversation() + " text "
            + m.getText() + ", expected from " + s.from());
      }
    }
    Map<String, Long> present = items.stream().collect(Collectors.groupingBy(Message::getMsgId, Collectors.counting()));
    expected.forEach((msgId, s) -> {
      if (!present.containsKey(msgId)) {
        lost++;
        violations.add(user + ": accepted " + s.ack().clientMsgId() + " from " + s.from() + " (msgId " + msgId + ") never arrived");
      }
    });
    violations.addAll(outOfCreationOrder(user, messages.stream().filter(m -> !m.getFrom().equals(user)).toList(), Message::getFrom));
  }

  /** One user's inbox, read incrementally through one connection (replaced when it fails). */
  private final class InboxReader implements AutoCloseable {
    final String user;
    final List<Message> items = new ArrayList<>();
    WsClient client;
    int cursor;
    String lastFailure = "";

    InboxReader(String user) {
      this.user = user;
      this.cursor = Math.abs(user.hashCode());
    }

    /** Reads every page after the last item read; false if that failed (retried on the next call). */
    boolean readMore() {
      try {
        if (client == null) {
          List<String> eps = endpoints.get();
          String ep = eps.get(Math.floorMod(cursor, eps.size()));
          client = WsClient.connect(java.net.URI.create(ep + "?access_token=" + Tokens.valid(user)));
          client.welcome();
        }
        while (true) {
          long after = items.isEmpty() ? 0 : items.get(items.size() - 1).getSeq();
          client.sendJson("{\"sync\":{\"stream\":\"inbox\",\"afterSeq\":" + after + ",\"limit\":" + PAGE + "}}");
          ServerFrame f =
              client.expect(x -> x.hasHistory() || x.hasError() && x.getError().getRef().equals("inbox"), "history of " + user);
          if (f.hasError()) {
            lastFailure = f.getError().getCode() + " " + f.getError().getMessage();
            return false;
          }
          History h = f.getHistory();
          for (StreamItem item : h.getItemsList()) {
            if (item.hasMessage()) {
              items.add(item.getMessage());
            } else {
              violations.add(user + ": unexpected system item at seq " + item.getSystem().getSeq());
              // keep positions aligned with seqs
              items.add(Message.newBuilder().setSeq(item.getSystem().getSeq()).setMsgId("system-" + item.getSystem().getSeq()).build());
            }
          }
          if (!h.getHasMore() || h.getItemsCount() == 0) {
            return true;
          }
        }
      } catch (AssertionError | CompletionException | IllegalStateException e) {
        lastFailure = String.valueOf(e.getMessage());
        close();
        cursor++;
        return false;
      }
    }

    @Override
    public void close() {
      if (client != null) {
        client.close();
        client = null;
      }
    }
  }
}
