package org.imrouter.node.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.imrouter.node.testkit.Tokens;
import org.imrouter.protocol.v1.ServerFrame;

/**
 * One user's device sending direct messages continuously, like a well-behaved client: a few
 * sends in flight at a time, each retried with the same clientMsgId until it is answered with
 * {@code accepted} (after UNAVAILABLE, a timeout, or a lost connection); a lost or closed
 * connection (1001 "going away", a killed node) is replaced by one to the next router node.
 * Messages go out in runs to one recipient, back to back (the second leaves before the first is
 * answered), so the order of one conversation is tested through every hand-off. The clientMsgId
 * of the n-th message a client creates is {@code user-n}, so its order can be read back from the
 * inboxes. Every {@code accepted} is recorded, with when it arrived and on which connection, and
 * every refusal, silence and lost connection, for the checker and for the recovery times.
 */
final class LoadClient implements AutoCloseable {
  /**
   * An {@code accepted} as the client saw it; {@code dueAtNanos} is when the client meant to send
   * the message, its place in the client's schedule.
   */
  record Ack(String clientMsgId, String to, long seq, String msgId, long atNanos, int connection, long dueAtNanos) {}

  /** An error answer to one attempt of a send (UNAVAILABLE, RATE_LIMITED, …). */
  record Refusal(String clientMsgId, String code, long sentAtNanos, long atNanos) {
    long answerNanos() {
      return atNanos - sentAtNanos;
    }
  }

  /** An attempt of a send that got no answer at all within the client's answer timeout. */
  record Silence(String clientMsgId, long sentAtNanos) {}

  /** A connection that ended, and why ("closed with 1001", "closed with -1", …). */
  record Disconnect(String why, long atNanos) {}

  /** A connection the client opened and, once welcomed, used. */
  record Connection(int number, String endpoint, long welcomedAtNanos) {}

  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration WELCOME_TIMEOUT = Duration.ofSeconds(15);
  /** The node answers every send within its ask timeout (5 s); beyond this, resend. */
  private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(12);
  /** Pause before retrying after UNAVAILABLE, RATE_LIMITED or a failed connect. */
  private static final Duration RETRY_BACKOFF = Duration.ofMillis(300);
  private static final Duration SEND_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);

  private sealed interface Event {}

  private record Frame(int connection, ServerFrame frame) implements Event {}

  private record Closed(int connection, int code) implements Event {}

  private static final class Pending {
    final String to;
    /** when the client meant to send it: its place in the client's schedule */
    final long dueAtNanos;
    long resendAtNanos;
    long sentAtNanos;
    int attempts;
    /** the last attempt went out on the current connection and has had no answer yet */
    boolean awaitingAnswer;

    Pending(String to, long dueAtNanos) {
      this.to = to;
      this.dueAtNanos = dueAtNanos;
    }
  }

  final String user;
  private final List<String> targets;
  private final Supplier<List<String>> endpoints;
  private final long intervalNanos;
  private final int inARow;
  private final int window;
  private final int maxMessages;

  private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
  private final Map<String, Ack> accepted = new ConcurrentHashMap<>();
  private final List<Ack> acks = Collections.synchronizedList(new ArrayList<>());
  private final List<Connection> connections = Collections.synchronizedList(new ArrayList<>());
  private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
  private final List<Disconnect> disconnects = Collections.synchronizedList(new ArrayList<>());
  private final List<Refusal> refusals = Collections.synchronizedList(new ArrayList<>());
  private final List<Silence> silences = Collections.synchronizedList(new ArrayList<>());
  private final Thread thread;
  private volatile boolean sending = true;
  private volatile boolean running = true;
  private volatile int pendingCount;
  private volatile long resends;

  // owned by the client's thread
  private final Map<String, Pending> pending = new LinkedHashMap<>();
  private int cursor;
  private int connectionNumber;
  private WebSocket ws;
  private String endpoint;
  private boolean welcomed;
  private long connectedAtNanos;
  private long nextSendAtNanos;
  private int created;

  /**
   * @param endpoints the router nodes' WebSocket base URIs (like a load balancer's backends);
   *     the client starts at position {@code home} and moves to the next one when it loses its
   *     connection
   * @param interval the time between two runs of messages
   * @param inARow the messages of one run, all to the same target and sent back to back; the
   *     runs go to {@code targets} in turn
   * @param window the most messages unanswered at a time; at least {@code inARow}, or a run
   *     would never be in flight at once
   */
  LoadClient(
      String user,
      List<String> targets,
      Supplier<List<String>> endpoints,
      int home,
      Duration interval,
      int inARow,
      int window,
      int maxMessages) {
    if (window < inARow) {
      throw new IllegalArgumentException("window " + window + " below a run of " + inARow);
    }
    this.user = user;
    this.targets = List.copyOf(targets);
    this.endpoints = endpoints;
    this.cursor = home;
    this.intervalNanos = interval.toNanos();
    this.inARow = inARow;
    this.window = window;
    this.maxMessages = maxMessages;
    this.thread = new Thread(this::run, "load-" + user);
    this.thread.setDaemon(true);
  }

  LoadClient start() {
    thread.start();
    return this;
  }

  /** No new messages from now on; unanswered ones are still retried until accepted. */
  void stopSending() {
    sending = false;
  }

  boolean idle() {
    return !sending && pendingCount == 0;
  }

  int pendingCount() {
    return pendingCount;
  }

  long resends() {
    return resends;
  }

  Map<String, Ack> accepted() {
    return Map.copyOf(accepted);
  }

  List<Ack> acks() {
    return snapshot(acks);
  }

  List<Connection> connections() {
    return snapshot(connections);
  }

  /** Each connection that ended, when and why. */
  List<Disconnect> disconnects() {
    return snapshot(disconnects);
  }

  List<Refusal> refusals() {
    return snapshot(refusals);
  }

  List<Silence> silences() {
    return snapshot(silences);
  }

  List<String> problems() {
    return snapshot(problems);
  }

  /** A copy of one of the synchronized lists, taken under its lock (the client thread adds to it). */
  private static <T> List<T> snapshot(List<T> list) {
    synchronized (list) {
      return List.copyOf(list);
    }
  }

  /** The endpoint of the current connection, or null between connections. */
  String endpoint() {
    return endpoint;
  }

  long acceptedAfter(long nanos) {
    synchronized (acks) {
      return acks.stream().filter(a -> a.atNanos() > nanos).count();
    }
  }

  /**
   * When the client was served again after {@code faultNanos}: the first {@code accepted} that
   * arrived on a connection opened after the fault; -1 if none yet.
   */
  long servedAgainOnNewConnectionNanos(long faultNanos) {
    List<Connection> cs = connections();
    List<Ack> as = acks();
    for (Ack a : as) {
      Connection c = cs.stream().filter(x -> x.number() == a.connection()).findFirst().orElse(null);
      if (a.atNanos() > faultNanos && c != null && c.welcomedAtNanos() > faultNanos) {
        return a.atNanos() - faultNanos;
      }
    }
    return -1;
  }

  /**
   * The longest wait of a message accepted after {@code faultNanos}, from when the client meant
   * to send it (whether or not it was connected then), or from the fault if it was due before,
   * until it was accepted: how long the client was without service after the fault. Unlike the
   * gaps between accepted messages it does not grow with the time between sends.
   */
  long longestWaitAfterNanos(long faultNanos) {
    return acks().stream()
        .filter(a -> a.atNanos() > faultNanos)
        .mapToLong(a -> a.atNanos() - Math.max(a.dueAtNanos(), faultNanos))
        .max()
        .orElse(0);
  }

  /** The longest time without an {@code accepted} that ended after {@code faultNanos}. */
  long longestGapAfterNanos(long faultNanos) {
    List<Long> times = acks().stream().map(Ack::atNanos).sorted().toList();
    long longest = 0;
    for (int i = 1; i < times.size(); i++) {
      if (times.get(i) > faultNanos) {
        longest = Math.max(longest, times.get(i) - times.get(i - 1));
      }
    }
    return longest;
  }

  // ------------------------------------------------------------------ the client's thread

  private void run() {
    // clients start at random points of the interval, so the load is steady, not in waves
    nextSendAtNanos = System.nanoTime() + ThreadLocalRandom.current().nextLong(intervalNanos);
    try {
      while (running) {
        long now = System.nanoTime();
        if (ws == null) {
          connect();
          continue;
        }
        if (!welcomed && now - connectedAtNanos > WELCOME_TIMEOUT.toNanos()) {
          dropConnection("no welcome within " + WELCOME_TIMEOUT);
          continue;
        }
        if (welcomed) {
          sendDue(now);
        }
        handle(events.poll(nextWakeUpMillis(now), TimeUnit.MILLISECONDS));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      problems.add("client " + user + " crashed: " + e);
    } finally {
      if (ws != null) {
        ws.abort();
      }
    }
  }

  private long nextWakeUpMillis(long now) {
    long next = now + TimeUnit.MILLISECONDS.toNanos(200);
    if (welcomed && sending && pending.size() < window && created < maxMessages) {
      next = Math.min(next, nextSendAtNanos);
    }
    for (Pending p : pending.values()) {
      next = Math.min(next, p.resendAtNanos);
    }
    return Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - now));
  }

  private void sendDue(long now) {
    for (Map.Entry<String, Pending> e : pending.entrySet()) {
      Pending p = e.getValue();
      if (p.resendAtNanos <= now) {
        if (p.attempts > 0) {
          resends++;
        }
        if (p.awaitingAnswer) {
          silences.add(new Silence(e.getKey(), p.sentAtNanos));
        }
        if (!send(e.getKey(), p)) {
          return;
        }
      }
    }
    // a run goes out back to back; the next run is due one interval after this one started
    while (sending && pending.size() < window && created < maxMessages && nextSendAtNanos <= now) {
      String clientMsgId = user + "-" + created;
      Pending p = new Pending(targets.get(created / inARow % targets.size()), nextSendAtNanos);
      created++;
      pending.put(clientMsgId, p);
      pendingCount = pending.size();
      if (created % inARow == 0) {
        nextSendAtNanos = now + intervalNanos;
      }
      if (!send(clientMsgId, p)) {
        return;
      }
    }
  }

  /** Sends (again) on the current connection; false if the connection is gone. */
  private boolean send(String clientMsgId, Pending p) {
    p.attempts++;
    p.awaitingAnswer = true;
    p.sentAtNanos = System.nanoTime();
    p.resendAtNanos = p.sentAtNanos + ANSWER_TIMEOUT.toNanos();
    String json = "{\"send\":{\"clientMsgId\":\"" + clientMsgId + "\",\"to\":\"user:" + p.to + "\",\"text\":\"" + clientMsgId + "\"}}";
    try {
      ws.sendText(json, true).get(SEND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      dropConnection("send failed: " + e);
      return false;
    }
  }

  private void handle(Event event) {
    if (event instanceof Frame f) {
      onFrame(f);
    } else if (event instanceof Closed c && c.connection() == connectionNumber && ws != null) {
      dropConnection("closed with " + c.code());
    }
  }

  private void onFrame(Frame f) {
    ServerFrame frame = f.frame();
    long now = System.nanoTime();
    if (frame.hasWelcome() && f.connection() == connectionNumber) {
      welcomed = true;
      connections.add(new Connection(connectionNumber, endpoint, now));
      // everything unanswered goes out again on the new connection, with the same clientMsgId
      pending.values().forEach(p -> {
        p.resendAtNanos = now;
        p.awaitingAnswer = false; // its answer was lost with the connection, not withheld
      });
    } else if (frame.hasAccepted()) {
      var a = frame.getAccepted();
      Pending p = pending.remove(a.getClientMsgId());
      pendingCount = pending.size();
      Ack ack =
          new Ack(a.getClientMsgId(), p == null ? null : p.to, a.getSeq(), a.getMsgId(), now, f.connection(), p == null ? now : p.dueAtNanos);
      Ack first = accepted.putIfAbsent(a.getClientMsgId(), ack);
      if (first == null) {
        if (p == null) {
          problems.add(user + ": accepted for a clientMsgId never sent: " + a.getClientMsgId());
        }
        acks.add(ack);
      } else if (first.seq() != a.getSeq() || !first.msgId().equals(a.getMsgId())) {
        problems.add(user + ": " + a.getClientMsgId() + " accepted twice with different results: seq " + first.seq() + "/"
            + first.msgId() + " then seq " + a.getSeq() + "/" + a.getMsgId());
      }
    } else if (frame.hasError()) {
      var e = frame.getError();
      Pending p = pending.get(e.getRef());
      if (p != null) {
        p.awaitingAnswer = false;
        refusals.add(new Refusal(e.getRef(), e.getCode(), p.sentAtNanos, now));
      }
      if (p != null && (e.getCode().equals("UNAVAILABLE") || e.getCode().equals("RATE_LIMITED"))) {
        p.resendAtNanos = now + RETRY_BACKOFF.toNanos(); // a retry with the same id is safe
      } else if (p != null) {
        pending.remove(e.getRef());
        pendingCount = pending.size();
        problems.add(user + ": send " + e.getRef() + " failed with " + e.getCode() + ": " + e.getMessage());
      }
    }
  }

  private void connect() throws InterruptedException {
    List<String> candidates = endpoints.get();
    if (candidates.isEmpty()) {
      handle(events.poll(RETRY_BACKOFF.toMillis(), TimeUnit.MILLISECONDS));
      return;
    }
    String target = candidates.get(Math.floorMod(cursor, candidates.size()));
    int number = ++connectionNumber;
    try {
      ws =
          HTTP.newWebSocketBuilder()
              .connectTimeout(CONNECT_TIMEOUT)
              .buildAsync(URI.create(target + "?access_token=" + Tokens.valid(user)), listener(number))
              .get(CONNECT_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
      endpoint = target;
      welcomed = false;
      connectedAtNanos = System.nanoTime();
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception refused) {
      // node down or not accepting connections (draining): the next one, after a short pause
      cursor++;
      handle(events.poll(RETRY_BACKOFF.toMillis(), TimeUnit.MILLISECONDS));
    }
  }

  private void dropConnection(String why) {
    disconnects.add(new Disconnect(why, System.nanoTime()));
    if (ws != null) {
      ws.abort();
    }
    ws = null;
    endpoint = null;
    welcomed = false;
    cursor++; // go away means: reconnect, elsewhere
  }

  private WebSocket.Listener listener(int number) {
    return new WebSocket.Listener() {
      private final StringBuilder text = new StringBuilder();

      @Override
      public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
          ServerFrame.Builder b = ServerFrame.newBuilder();
          try {
            JsonFormat.parser().ignoringUnknownFields().merge(text.toString(), b);
            events.add(new Frame(number, b.build()));
          } catch (InvalidProtocolBufferException e) {
            problems.add(user + ": unparseable frame " + text);
          }
          text.setLength(0);
        }
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
        webSocket.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
        events.add(new Closed(number, statusCode));
        return null;
      }

      @Override
      public void onError(WebSocket webSocket, Throwable error) {
        events.add(new Closed(number, -1));
      }
    };
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    try {
      thread.join(STOP_TIMEOUT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
