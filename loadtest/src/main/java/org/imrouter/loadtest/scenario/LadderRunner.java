package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.metrics.CpuMeter;
import org.imrouter.loadtest.metrics.LatencyTimeline;
import org.imrouter.loadtest.rate.OpenLoopDriver;
import org.imrouter.loadtest.rate.OpenLoopSchedule;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.StepResult;
import org.imrouter.protocol.v1.Accepted;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.Send;

/**
 * The ladder every message scenario shares (dm, group, hot): for each rate it sends open-loop
 * what a {@link Traffic} plans for one step, waits a drain grace for the answers, and judges the
 * step. It is the sessions' listener: it matches accepts and deliveries to the sends.
 *
 * <p>Each message's text starts with its clientMsgId, so a receiver finds the send it belongs to;
 * latencies run from the intended send time (all sessions share this JVM's nanoTime).
 */
final class LadderRunner implements SessionListener {
  /** The driver starts a step this long after preparing it, so the first sends are not late. */
  private static final Duration STEP_LEAD = Duration.ofMillis(20);
  /** How often the drain wait looks whether every send of the step is answered. */
  private static final Duration DRAIN_POLL = Duration.ofMillis(20);
  /**
   * How long the end of a ladder waits for its last sends to be answered and delivered before
   * the read-back and the loss verdict: past saturation they trail the step by many seconds.
   */
  static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(120);
  /** Individual violations quoted in the report (the counts are always complete). */
  static final int MAX_PROBLEMS_LISTED = 20;
  /**
   * The error a send is counted under when it never left the load generator: its connection had
   * closed (e.g. the server dropped a slow consumer) or its send buffer was full.
   */
  static final String CLIENT_SEND_FAILED = "CLIENT_SEND_FAILED";
  /** Counted under the errors of a step once per resend (not a failure: the send goes on). */
  static final String RESENT = "UNAVAILABLE-resent";
  /**
   * A send refused UNAVAILABLE goes again, in order with the other sends to its conversation
   * ({@link ResendQueues}), after ClientSession.UNAVAILABLE_BACKOFF plus up to as much at random,
   * until this long after it was due; a refusal after that fails it.
   */
  static final Duration RESEND_DEADLINE = Duration.ofSeconds(10);

  private final String target;
  private final LadderSettings settings;
  private final Checks checks;
  private final Consumer<StepResult> onStep;
  private final Map<String, SentMessage> ledger = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final ScheduledExecutorService resends =
      Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "ladder-resends");
        t.setDaemon(true);
        return t;
      });
  private final ResendQueues<SentMessage> resendQueues =
      new ResendQueues<>(m -> m.conversation, m -> m.order, this::transmit, this::afterBackoff);
  private final List<StepMeter> meters = new CopyOnWriteArrayList<>();
  private volatile long unsettled;
  private final LongAdder acceptedTotal = new LongAdder();
  private final String padding;
  // replaced when the ladder starts, so that second 0 of the charts is the first step
  private volatile LatencyTimeline acceptTimeline = new LatencyTimeline(System.nanoTime());
  private volatile LatencyTimeline deliveryTimeline = acceptTimeline;

  /**
   * @param target the name rows are reported under ("router", "baseline-ws", "group-100", …)
   * @param onStep called with each step's result as soon as it is judged (the live table)
   */
  LadderRunner(String target, LadderSettings settings, Checks checks, Consumer<StepResult> onStep) {
    this.target = target;
    this.settings = settings;
    this.checks = checks;
    this.onStep = onStep;
    this.padding = "x".repeat(Math.max(0, settings.textBytes()));
  }

  String target() {
    return target;
  }

  /** The unjudged warmup step, then the ladder until the first failing step (or all with --continue). */
  List<StepResult> run(Traffic traffic) throws InterruptedException {
    if (!settings.warmup().isZero()) {
      // JIT compilation and connection buffers warm up here, unjudged; the checkers still watch it
      runStep(settings.rates().get(0), settings.warmup(), traffic);
    }
    long origin = System.nanoTime();
    acceptTimeline = new LatencyTimeline(origin);
    deliveryTimeline = new LatencyTimeline(origin);
    List<StepResult> steps = new ArrayList<>();
    for (int rate : settings.rates()) {
      StepResult step = runStep(rate, settings.step(), traffic);
      steps.add(step);
      onStep.accept(step);
      if (!step.passed() && !settings.continueAfterFailure()) {
        break;
      }
    }
    settle();
    resends.shutdownNow(); // settled: nothing is left to resend
    return steps;
  }

  /**
   * Waits until every send of the run is refused, or accepted and delivered, or for at most
   * {@link #SETTLE_TIMEOUT}. Why: what a caller checks next (stored == delivered read-backs, lost
   * messages) must not race sends still in flight. Past saturation, read-backs that started
   * while the last step's sends were still being accepted counted fewer items than the sessions
   * went on to receive live (stored 2254 != delivered 2261 on every stream).
   */
  private void settle() throws InterruptedException {
    long end = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    while (outstanding() > 0 && System.nanoTime() < end) {
      Thread.sleep(DRAIN_POLL.toMillis());
    }
    unsettled = outstanding();
  }

  private long outstanding() {
    return meters.stream().mapToLong(StepMeter::outstanding).sum();
  }

  private StepResult runStep(int rate, Duration length, Traffic traffic) throws InterruptedException {
    StepMeter step = new StepMeter(rate);
    meters.add(step);
    Checks.Summary before = checks.summary();
    CpuMeter cpu = new CpuMeter(settings.serverPid(), settings.cassandraPid());
    cpu.start();
    long acceptedBefore = acceptedTotal.sum();
    OpenLoopSchedule schedule = new OpenLoopSchedule(rate, length);
    long start = System.nanoTime() + STEP_LEAD.toNanos();
    new OpenLoopDriver(OpenLoopDriver.SYSTEM_CLOCK).run(schedule, start, (i, intended) -> send(step, traffic.plan(i), intended));
    OpenLoopDriver.SYSTEM_CLOCK.sleepUntil(start + length.toNanos());
    long acceptedInWindow = acceptedTotal.sum() - acceptedBefore;
    long graceEnd = System.nanoTime() + settings.drainGrace().toNanos();
    while (step.outstanding() > 0 && System.nanoTime() < graceEnd) {
      Thread.sleep(DRAIN_POLL.toMillis());
    }
    CpuMeter.Usage usage = cpu.stop();
    return judge(step, length, acceptedInWindow, usage, before, checks.summary());
  }

  private void send(StepMeter step, Traffic.Planned planned, long intendedNanos) {
    // prefixed with the target, so two ladders listening to the same sessions never share an id
    long order = ids.incrementAndGet();
    String clientMsgId = target + "-m" + order;
    ClientFrame frame =
        ClientFrame.newBuilder()
            .setSend(Send.newBuilder().setClientMsgId(clientMsgId).setTo(planned.to()).setText(clientMsgId + " " + padding))
            .build();
    SentMessage m = new SentMessage(clientMsgId, order, step, intendedNanos, planned.audience(), planned.sender(), frame);
    ledger.put(clientMsgId, m);
    checks.loss.sent(clientMsgId, planned.audience().sessionIds());
    step.sent.increment();
    resendQueues.send(m);
  }

  /** A resend's pause: as a client does, a backoff with jitter so that refused clients spread out. */
  private void afterBackoff(Runnable resend) {
    long backoff = ClientSession.UNAVAILABLE_BACKOFF.toMillis();
    resends.schedule(resend, backoff + ThreadLocalRandom.current().nextLong(backoff + 1), TimeUnit.MILLISECONDS);
  }

  private void transmit(SentMessage m) {
    if (!m.sender.send(m.frame) && m.fail()) {
      m.step.error(CLIENT_SEND_FAILED);
      // never sent: it no longer holds up its conversation (on another thread, so that a
      // conversation whose sends all fail is not a recursion of next, transmit, next, …)
      try {
        resends.execute(() -> resendQueues.gaveUp(m));
      } catch (RejectedExecutionException settled) {
        // the ladder is over: nothing waits any more
      }
    }
  }

  @Override
  public void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {
    SentMessage m = ledger.get(accepted.getClientMsgId());
    if (m == null) {
      return;
    }
    resendQueues.accepted(m);
    if (m.accept()) {
      acceptedTotal.increment();
      m.step.accepted.increment();
      m.step.accept.recordNanos(nowNanos - m.intendedNanos);
      acceptTimeline.record(m.intendedNanos, nowNanos - m.intendedNanos);
      checks.loss.accepted(m.clientMsgId);
    }
  }

  @Override
  public void onMessage(ClientSession session, Message message, long nowNanos) {
    String text = message.getText();
    int space = text.indexOf(' ');
    SentMessage m = ledger.get(space < 0 ? text : text.substring(0, space));
    if (m == null) {
      return;
    }
    // a direct message's sender gets its own copy too: order and duplicates are checked by the session
    int member = m.audience.indexOf(session.id());
    if (member == Audience.NOT_IN_AUDIENCE) {
      return;
    }
    checks.loss.delivered(m.clientMsgId, session.id());
    if (m.deliverTo(member)) {
      m.step.delivered.increment();
      m.step.delivery.recordNanos(nowNanos - m.intendedNanos);
      deliveryTimeline.record(m.intendedNanos, nowNanos - m.intendedNanos);
    }
  }

  @Override
  public void onError(ClientSession session, String ref, String code, long nowNanos) {
    SentMessage m = ledger.get(ref);
    if (m == null) {
      return;
    }
    if (code.equals(ClientSession.UNAVAILABLE) && nowNanos - m.intendedNanos < RESEND_DEADLINE.toNanos()) {
      // as a client does: the same send again after a pause, in order, until the deadline
      m.step.error(RESENT);
      resendQueues.refused(m);
      return;
    }
    resendQueues.gaveUp(m);
    if (m.fail()) {
      m.step.error(code);
    }
  }

  private StepResult judge(StepMeter step, Duration length, long acceptedInWindow, CpuMeter.Usage usage, Checks.Summary before, Checks.Summary after) {
    double seconds = length.toNanos() / 1e9;
    long sent = step.sent.sum();
    long accepted = step.accepted.sum();
    long delivered = step.delivered.sum();
    double achieved = acceptedInWindow / seconds;
    var accept = step.accept.percentiles();
    var delivery = step.delivery.percentiles();
    long gaps = after.gaps() - before.gaps();
    long dups = after.duplicates() - before.duplicates();
    long outOfOrder = after.outOfOrder() - before.outOfOrder();
    long lost = sent - step.completed.sum();
    List<String> failures = new ArrayList<>();
    if (accept.p99() > settings.maxP99Ms()) {
      failures.add("accept p99 " + accept.p99() + " ms > " + settings.maxP99Ms());
    }
    if (delivery.p99() > settings.maxP99Ms()) {
      failures.add("delivery p99 " + delivery.p99() + " ms > " + settings.maxP99Ms());
    }
    if (lost > 0) {
      failures.add(lost + " of " + sent + " not accepted and delivered to all");
    }
    if (achieved < settings.minAchieved() * step.offeredPerSecond) {
      failures.add(String.format("achieved %.0f/s < %.0f%% of offered", achieved, settings.minAchieved() * 100));
    }
    if (gaps + dups + outOfOrder > 0) {
      failures.add("order violations: " + gaps + " gaps, " + dups + " duplicates, " + outOfOrder + " out of order");
    }
    return new StepResult(
        target,
        step.offeredPerSecond,
        seconds,
        sent,
        accepted,
        delivered,
        achieved,
        delivered / seconds,
        accept,
        delivery,
        step.errors(),
        gaps,
        dups,
        outOfOrder,
        lost,
        CpuMeter.Usage.perMessage(usage.serverMs(), accepted),
        CpuMeter.Usage.perMessage(usage.cassandraMs(), accepted),
        CpuMeter.Usage.perMessage(usage.loadgenMs(), accepted),
        failures.isEmpty(),
        List.copyOf(failures));
  }

  static Optional<Integer> highestPassing(List<StepResult> steps) {
    return steps.stream().filter(StepResult::passed).map(StepResult::offeredPerSecond).max(Integer::compare);
  }

  /**
   * The ladder's result: its steps, the connect phase, the checkers' totals, and the problems
   * found (the caller's, then lost messages and stored≠delivered mismatches).
   */
  LadderResult result(String url, int sessions, int senders, SessionRamp.Outcome ramp, List<StepResult> steps, List<String> problems) {
    List<String> all = new ArrayList<>(problems);
    if (unsettled > 0) {
      all.add(unsettled + " sends still unanswered or undelivered " + SETTLE_TIMEOUT.toSeconds() + " s after the last step");
    }
    for (var lost : checks.loss.lost()) {
      if (all.size() >= MAX_PROBLEMS_LISTED) {
        break;
      }
      all.add("lost: " + lost.id() + " never reached " + lost.missing());
    }
    checks.stored.mismatches().stream().limit(MAX_PROBLEMS_LISTED)
        .forEach(m -> all.add("stored " + m.stored() + " != delivered " + m.live() + " on " + m.key()));
    return new LadderResult(
        target,
        url,
        sessions,
        senders,
        ramp.sessionsPerSecond(),
        ramp.handshake().percentiles(),
        List.copyOf(steps),
        highestPassing(steps),
        checks.summary(),
        List.copyOf(all),
        acceptTimeline.points(),
        deliveryTimeline.points());
  }
}
