package org.imrouter.node.metrics;

import java.time.Duration;
import kamon.Kamon;
import kamon.metric.Counter;
import kamon.metric.Histogram;
import kamon.metric.RangeSampler;
import kamon.metric.Timer;

/**
 * Every metric the node records, in one place so names stay consistent. Kamon instruments are
 * safe to use before (or without) {@code Kamon.init}: they record into the registry and are
 * exported when a reporter runs.
 */
public final class RouterMetrics {
  private static final RangeSampler CONNECTIONS = Kamon.rangeSampler("router.connections").withoutTags();
  private static final Counter FRAMES_IN = Kamon.counter("router.frames.in").withoutTags();
  private static final Counter FRAMES_OUT = Kamon.counter("router.frames.out").withoutTags();
  private static final Counter DELIVERED = Kamon.counter("router.items.delivered").withoutTags();
  private static final Histogram BATCH_SIZE = Kamon.histogram("router.persist.batch.size").withoutTags();
  private static final Counter ADMISSIONS_REFUSED = Kamon.counter("router.connections.admission-refused").withoutTags();
  private static final Histogram FAN_OUT = Kamon.histogram("router.fanout.gateways").withoutTags();
  private static final Counter SESSIONS_SHED = Kamon.counter("router.connections.shed").withoutTags();
  private static final Timer DISPATCHER_LAG = Kamon.timer("router.dispatcher.lag").withoutTags();

  private RouterMetrics() {}

  public static void connectionOpened() {
    CONNECTIONS.increment();
  }

  public static void connectionClosed() {
    CONNECTIONS.decrement();
  }

  /**
   * A connection closed before its WebSocket upgrade: {@code reason} "deadline" (the pre-auth
   * deadline passed) or "evicted" (a newer connection needed its pre-auth slot).
   */
  public static void preAuthClosed(String reason) {
    Kamon.counter("router.connections.pre-auth-closed").withTag("reason", reason).increment();
  }

  /**
   * A WebSocket upgrade refused with 503 because the node was taking on new sessions faster than
   * router.http.session-admissions-per-second allows.
   */
  public static void sessionAdmissionRefused() {
    ADMISSIONS_REFUSED.increment();
  }

  public static void frameIn() {
    FRAMES_IN.increment();
  }

  public static void frameOut() {
    FRAMES_OUT.increment();
  }

  /** A message accepted (durable) on a stream of {@code kind} "direct" or "group". */
  public static void accepted(String kind) {
    Kamon.counter("router.messages.accepted").withTag("kind", kind).increment();
  }

  public static void delivered() {
    DELIVERED.increment();
  }

  /**
   * A command an entity turned away because max-pending commands already waited for its storage
   * (router.entity.max-pending): storage is slower than the traffic to that entity.
   */
  public static void writeRefusedBehind(String entity) {
    Kamon.counter("router.writes.behind").withTag("entity", entity).increment();
  }

  /** A journal write refused because this node is not on the side of the cluster that survives. */
  public static void writeFenced() {
    Kamon.counter("router.writes.fenced").withoutTags().increment();
  }

  /**
   * How late a task scheduled on the default dispatcher started (delivery/NodeLoad): the queue
   * of work the node has taken on and not yet done.
   */
  public static void dispatcherLag(long nanos) {
    DISPATCHER_LAG.record(nanos);
  }

  /** A WebSocket upgrade answered 503 because the node was overloaded (delivery/NodeLoad). */
  public static void sessionShed() {
    SESSIONS_SHED.increment();
  }

  /** A member downed because its process was found gone (cluster/DeadMemberDowning). */
  public static void deadMemberDowned() {
    Kamon.counter("router.cluster.dead-members-downed").withoutTags().increment();
  }

  /** An error answered to a client, by its stable code. */
  public static void error(String code) {
    Kamon.counter("router.errors").withTag("code", code).increment();
  }

  /** One journal write of {@code size} items of an {@code entity} ("user"/"group") that took {@code elapsed}. */
  public static void batchWritten(String entity, int size, Duration elapsed) {
    BATCH_SIZE.record(size);
    Timer timer = Kamon.timer("router.persist.latency").withTag("entity", entity);
    timer.record(elapsed.toNanos());
  }

  public static void fanOut(int gateways) {
    FAN_OUT.record(gateways);
  }
}
