package org.imrouter.node.delivery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.imrouter.node.auth.JwtVerifier;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.node.stream.Ids;
import org.imrouter.node.stream.Reply;
import org.imrouter.node.stream.StorageHealth;
import org.imrouter.node.user.UserEntity;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.Send;
import org.imrouter.protocol.v1.ServerFrame;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Guarantee 3 (FIFO per sender per conversation) through lost answers. During a hand-off the
 * shard region may drop a send and deliver the ones after it: the dropped send gets no answer,
 * and a resend would land after later ones. A session therefore has one send per conversation in
 * flight: later sends to it wait, go out when it is answered, and are refused UNAVAILABLE (never
 * sent) when it may be lost, so the client resends them behind it in order.
 *
 * <p>The user's entity is a stub that hands every send to the test, which answers it or drops
 * it, as a hand-off would.
 */
class SessionOrderTest {
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(1);
  private static final String USER = "alice";
  /** How long any expected answer may take on a busy machine (the test waits on it, not for it). */
  private static final Duration WAIT = Duration.ofSeconds(15);

  private static ActorTestKit testKit;
  private static TestProbe<UserEntity.SendDirect> entity;
  private static Session.Deps deps;
  /** The same, but sessions resend an unanswered send every {@link #RESEND_AFTER}. */
  private static Session.Deps resendingDeps;
  /** Shorter than ASK_TIMEOUT, so a send is resent before it times out. */
  private static final Duration RESEND_AFTER = Duration.ofMillis(200);

  @BeforeAll
  static void start() {
    testKit =
        ActorTestKit.create(
            "SessionOrderTest",
            // the order tests see each send once: no resends within the ask timeout
            ConfigFactory.parseMap(Map.of("router.session.ask-timeout", ASK_TIMEOUT.toMillis() + "ms", "router.session.resend-after", "1h"))
                .withFallback(ConfigFactory.load("entity-test")));
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    testKit.createTestProbe().awaitAssert(() -> {
      assertEquals(MemberStatus.up(), cluster.selfMember().status());
      return null;
    });
    entity = testKit.createTestProbe();
    ClusterSharding sharding = ClusterSharding.get(testKit.system());
    sharding.init(Entity.of(UserEntity.ENTITY_TYPE_KEY, ctx -> userStub()));
    RouterSettings settings = RouterSettings.fromConfig(testKit.system().settings().config());
    TestProbe<Gateway.Command> gateway = testKit.createTestProbe();
    // no refresh frames here: the verifier is the node's, built from the same settings
    deps = new Session.Deps(
        settings, sharding, gateway.ref(), null, UserRateLimits.fromSettings(settings.limits()), new JwtVerifier(settings.jwt()),
        ReconnectBackoff.fromSettings(settings.http()));
    RouterSettings resending =
        RouterSettings.fromConfig(
            // resends go out while the cluster changed recently: this one-node cluster formed at
            // the start of the class, well within an hour
            ConfigFactory.parseMap(Map.of("router.session.resend-after", RESEND_AFTER.toMillis() + "ms", "router.session.resend-window", "1h"))
                .withFallback(testKit.system().settings().config()));
    resendingDeps = new Session.Deps(
        resending, sharding, gateway.ref(), null, UserRateLimits.fromSettings(resending.limits()), new JwtVerifier(resending.jwt()),
        ReconnectBackoff.fromSettings(resending.http()));
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** Registers any session with an empty inbox; hands every send to the test. */
  private static Behavior<UserEntity.Command> userStub() {
    return Behaviors.setup(ctx -> Behaviors.receiveMessage(command -> {
      if (command instanceof UserEntity.Connect c) {
        c.replyTo().tell(new UserEntity.Connected(ctx.getSelf(), 0, Map.of(), List.of()));
      } else if (command instanceof UserEntity.SendDirect send) {
        entity.ref().tell(send);
      }
      return Behaviors.same();
    }));
  }

  /** A session of {@link #USER} whose output the probe gets, once welcomed. */
  private static ActorRef<Session.Command> session(TestProbe<Session.Out> out) {
    return session(out, deps);
  }

  private static ActorRef<Session.Command> session(TestProbe<Session.Out> out, Session.Deps with) {
    ActorRef<Session.Command> session =
        testKit.spawn(Session.create(
            new JwtVerifier.ClientToken(USER, Instant.now().plus(Duration.ofHours(1))), UUID.randomUUID().toString(), out.ref(), with, true));
    assertTrue(frame(out, WAIT).hasWelcome());
    return session;
  }

  private static void send(ActorRef<Session.Command> session, String clientMsgId, String to) {
    ClientFrame frame = ClientFrame.newBuilder().setSend(Send.newBuilder().setClientMsgId(clientMsgId).setTo(to).setText(clientMsgId)).build();
    session.tell(new Session.Incoming(testKit.<Session.Ack>createTestProbe().ref(), new Session.FromClient(frame, true)));
  }

  private static ServerFrame frame(TestProbe<Session.Out> out, Duration within) {
    return ((Session.OutFrame) out.expectMessageClass(Session.OutFrame.class, within)).frame();
  }

  private static void accept(UserEntity.SendDirect send, long seq) {
    send.replyTo().tell(new Reply.Accepted(send.clientMsgId(), Ids.INBOX, seq, "m" + seq, 0));
  }

  /**
   * The client resends {@code first} and {@code second} to {@code to}, in that order: the entity
   * sees {@code first} alone, and {@code second} only once {@code first} is accepted.
   */
  private static void resendInOrder(ActorRef<Session.Command> session, TestProbe<Session.Out> out, String first, String second, String to, long seq) {
    send(session, first, to);
    send(session, second, to);
    UserEntity.SendDirect resent = entity.receiveMessage(WAIT);
    assertEquals(first, resent.clientMsgId(), second + " went out ahead of " + first);
    accept(resent, seq);
    assertEquals(first, frame(out, WAIT).getAccepted().getClientMsgId());
    UserEntity.SendDirect next = entity.receiveMessage(WAIT);
    assertEquals(second, next.clientMsgId());
    accept(next, seq + 1);
    assertEquals(second, frame(out, WAIT).getAccepted().getClientMsgId());
  }

  @Test
  void aLaterSendToAConversationWaitsForTheEarlierOneAndIsRefusedWhenItIsLost() {
    TestProbe<Session.Out> out = testKit.createTestProbe();
    ActorRef<Session.Command> session = session(out);
    send(session, "m1", "user:bob");
    send(session, "m2", "user:bob"); // pipelined behind m1
    send(session, "m3", "user:carol"); // another conversation: not held

    // m3 was decoded after m2: had m2 gone out, the entity would have had it before m3
    assertEquals("m1", entity.receiveMessage(WAIT).clientMsgId());
    UserEntity.SendDirect m3 = entity.receiveMessage(WAIT);
    assertEquals("m3", m3.clientMsgId());
    accept(m3, 1);
    assertEquals("m3", frame(out, WAIT).getAccepted().getClientMsgId());

    // m1 is dropped (a hand-off): no answer in time, so m2 must not be stored before it
    ServerFrame m1Lost = frame(out, WAIT);
    assertEquals("m1", m1Lost.getError().getRef());
    assertEquals("UNAVAILABLE", m1Lost.getError().getCode());
    ServerFrame m2Refused = frame(out, WAIT);
    assertEquals("m2", m2Refused.getError().getRef());
    assertEquals("UNAVAILABLE", m2Refused.getError().getCode());

    // the client resends in order: m1, then m2 behind it
    resendInOrder(session, out, "m1", "m2", "user:bob", 2);
    testKit.stop(session);
  }

  /**
   * A quick refusal (a fenced node, the journal's open circuit breaker) can reach the session before the client's next send to
   * the conversation: that send, sent after the refused one, must not be stored before it, so it
   * is refused until the client resends the refused one.
   */
  @Test
  void aSendAfterARefusedOneToTheSameConversationWaitsForItsResend() {
    TestProbe<Session.Out> out = testKit.createTestProbe();
    ActorRef<Session.Command> session = session(out);
    send(session, "h1", "user:hana");
    UserEntity.SendDirect h1 = entity.receiveMessage(WAIT);
    h1.replyTo().tell(Reply.reject(org.imrouter.node.stream.ErrorCode.UNAVAILABLE, "storage unavailable, retry"));
    assertEquals("UNAVAILABLE", frame(out, WAIT).getError().getCode());

    send(session, "h2", "user:hana"); // sent before the client saw h1 refused
    ServerFrame h2Held = frame(out, WAIT);
    assertEquals("h2", h2Held.getError().getRef());
    assertEquals("UNAVAILABLE", h2Held.getError().getCode());

    resendInOrder(session, out, "h1", "h2", "user:hana", 5); // h2 never went out ahead of h1
    testKit.stop(session);
  }

  @Test
  void aRefusalThatStoredNothingLetsTheNextSendGo() {
    TestProbe<Session.Out> out = testKit.createTestProbe();
    ActorRef<Session.Command> session = session(out);
    send(session, "n1", "user:dave");
    send(session, "n2", "user:dave");
    UserEntity.SendDirect n1 = entity.receiveMessage(WAIT);
    assertEquals("n1", n1.clientMsgId());
    n1.replyTo().tell(Reply.reject(org.imrouter.node.stream.ErrorCode.TOO_LARGE, "too large"));
    assertEquals("TOO_LARGE", frame(out, WAIT).getError().getCode());
    UserEntity.SendDirect n2 = entity.receiveMessage(WAIT);
    assertEquals("n2", n2.clientMsgId(), "a definite refusal is final: the next send goes out");
    accept(n2, 4);
    assertEquals("n2", frame(out, WAIT).getAccepted().getClientMsgId());
    testKit.stop(session);
  }

  /**
   * A send lost on its way (its entity's node died, or a hand-off dropped it) is sent again by
   * the session, the same request, until the answer: the client gets its accepted without
   * waiting out the ask timeout and resending itself, and the next send to the conversation
   * still waits for it.
   */
  @Test
  void anUnansweredSendIsResentByTheSessionAndTheFirstAnswerCounts() {
    TestProbe<Session.Out> out = testKit.createTestProbe();
    ActorRef<Session.Command> session = session(out, resendingDeps);
    send(session, "r1", "user:erin");
    send(session, "r2", "user:erin");
    UserEntity.SendDirect first = entity.receiveMessage(WAIT);
    assertEquals("r1", first.clientMsgId());
    // no answer to the first: it comes again, the same request to the same reply address
    UserEntity.SendDirect again = entity.receiveMessage(WAIT);
    assertEquals("r1", again.clientMsgId(), "r2 stays behind r1 while r1 is resent");
    assertEquals(first.replyTo(), again.replyTo());
    accept(again, 5);
    ServerFrame accepted = frame(out, WAIT);
    assertEquals("r1", accepted.getAccepted().getClientMsgId());
    assertEquals(5, accepted.getAccepted().getSeq());
    // a late answer to another copy changes nothing; r2 goes out next, and only r2
    accept(first, 5);
    UserEntity.SendDirect next = entity.receiveMessage(WAIT);
    while (next.clientMsgId().equals("r1")) { // copies resent before the answer arrived
      next = entity.receiveMessage(WAIT);
    }
    assertEquals("r2", next.clientMsgId());
    accept(next, 6);
    assertEquals("r2", frame(out, WAIT).getAccepted().getClientMsgId());
    testKit.stop(session);
  }

  /**
   * While the node's storage fails every write, a send is refused at once, never handed to an
   * entity that would only stash it until the ask timeout; like any send refused as possibly
   * unwritten, a later one to the same conversation waits for its resend.
   */
  @Test
  void whileStorageFailsASendIsRefusedAtOnceAndHoldsItsConversation() {
    TestProbe<Session.Out> out = testKit.createTestProbe();
    ActorRef<Session.Command> session = session(out);
    StorageHealth storage = StorageHealth.get(testKit.system());
    for (int i = 0; i < testKit.system().settings().config().getInt("pekko.persistence.cassandra.journal.circuit-breaker.max-failures"); i++) {
      storage.failed();
    }
    try {
      send(session, "s1", "user:sara");
      ServerFrame refused = frame(out, WAIT);
      assertEquals("s1", refused.getError().getRef());
      assertEquals("UNAVAILABLE", refused.getError().getCode());
      entity.expectNoMessage(Duration.ofMillis(200)); // it never went out
    } finally {
      storage.succeeded(); // storage is back
    }
    send(session, "s2", "user:sara"); // sent before the client saw s1 refused
    assertEquals("s2", frame(out, WAIT).getError().getRef());
    resendInOrder(session, out, "s1", "s2", "user:sara", 9);
    testKit.stop(session);
  }
}
