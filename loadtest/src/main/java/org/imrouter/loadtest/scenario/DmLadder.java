package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.check.StreamKey;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
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
 * The direct-message ladder against one target: opens the sessions, then for each rate sends
 * open-loop over the sender→receiver pairs for one step, waits a drain grace for the answers, and
 * judges the step; finally reads every pair's inbox back to check stored == delivered.
 *
 * <p>Each message's text starts with its clientMsgId, so the receiver finds the send it belongs
 * to; latencies run from the intended send time (all sessions share this JVM's nanoTime).
 */
public final class DmLadder implements SessionListener {
  /** The driver starts a step this long after preparing it, so the first sends are not late. */
  private static final Duration STEP_LEAD = Duration.ofMillis(20);
  /** How often the drain wait looks whether every send of the step is answered. */
  private static final Duration DRAIN_POLL = Duration.ofMillis(20);
  /** Items per sync page when reading inboxes back (the router's sync-max-limit). */
  static final int SYNC_PAGE = 500;
  /** Inboxes read back at once at the end. */
  private static final int STORED_CHECK_CONCURRENCY = 50;
  private static final Duration STORED_CHECK_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);
  /** Individual violations quoted in the report (the counts are always complete). */
  private static final int MAX_PROBLEMS_LISTED = 20;
  /**
   * The error a send is counted under when it never left the load generator: its connection had
   * closed (e.g. the server dropped a slow consumer) or its send queue was full.
   */
  static final String CLIENT_SEND_FAILED = "CLIENT_SEND_FAILED";

  private final String target;
  private final String userPrefix;
  private final DmOptions options;
  private final Consumer<StepResult> onStep;
  private final Checks checks = new Checks();
  private final Map<String, SentMessage> ledger = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final LongAdder acceptedTotal = new LongAdder();
  private final String padding;
  private final List<String> problems = new ArrayList<>();
  // replaced when the ladder starts, so that second 0 of the charts is the first step
  private volatile LatencyTimeline acceptTimeline = new LatencyTimeline(System.nanoTime());
  private volatile LatencyTimeline deliveryTimeline = acceptTimeline;

  /**
   * @param target the name rows are reported under ("router", "baseline-ws")
   * @param onStep called with each step's result as soon as it is judged (the live table)
   */
  public DmLadder(String target, String userPrefix, DmOptions options, Consumer<StepResult> onStep) {
    this.target = target;
    this.userPrefix = userPrefix;
    this.options = options;
    this.onStep = onStep;
    this.padding = "x".repeat(Math.max(0, options.textBytes()));
  }

  public LadderResult run() throws InterruptedException {
    try (WsConnector connector = new WsConnector("loadgen-" + target, options.localAddress())) {
      List<SessionSpec> specs = new ArrayList<>();
      for (int i = 0; i < options.sessions(); i++) {
        specs.add(new SessionSpec(target + "-s" + i, userPrefix + i));
      }
      SessionRamp.Outcome ramp =
          new SessionRamp(connector, options.url(), checks, DevTokens::mint)
              .open(specs, options.connectConcurrency(), options.welcomeTimeout(), this);
      if (!ramp.failures().isEmpty()) {
        problems.add(ramp.failures().size() + " sessions failed to connect, first: " + ramp.failures().get(0));
        return result(ramp, List.of());
      }
      List<ClientSession> sessions = ramp.sessions();
      List<ClientSession[]> pairs = new ArrayList<>();
      for (int p = 0; p < options.pairs(); p++) {
        pairs.add(new ClientSession[] {sessions.get(2 * p), sessions.get(2 * p + 1)});
      }
      if (!options.warmup().isZero()) {
        // JIT compilation and connection buffers warm up here, unjudged; the checkers still watch it
        runStep(options.rates().get(0), options.warmup(), pairs);
      }
      long origin = System.nanoTime();
      acceptTimeline = new LatencyTimeline(origin);
      deliveryTimeline = new LatencyTimeline(origin);
      List<StepResult> steps = new ArrayList<>();
      for (int rate : options.rates()) {
        StepResult step = runStep(rate, options.step(), pairs);
        steps.add(step);
        onStep.accept(step);
        if (!step.passed() && !options.continueAfterFailure()) {
          break;
        }
      }
      checkStored(pairs);
      closeAll(sessions);
      return result(ramp, steps);
    }
  }

  private StepResult runStep(int rate, Duration length, List<ClientSession[]> pairs) throws InterruptedException {
    StepMeter step = new StepMeter(rate);
    Checks.Summary before = checks.summary();
    CpuMeter cpu = new CpuMeter(options.serverPid(), options.cassandraPid());
    cpu.start();
    long acceptedBefore = acceptedTotal.sum();
    OpenLoopSchedule schedule = new OpenLoopSchedule(rate, length);
    long start = System.nanoTime() + STEP_LEAD.toNanos();
    new OpenLoopDriver(OpenLoopDriver.SYSTEM_CLOCK)
        .run(schedule, start, (i, intended) -> send(step, pairs.get((int) (i % pairs.size())), intended));
    OpenLoopDriver.SYSTEM_CLOCK.sleepUntil(start + length.toNanos());
    long acceptedInWindow = acceptedTotal.sum() - acceptedBefore;
    long graceEnd = System.nanoTime() + options.drainGrace().toNanos();
    while (step.outstanding() > 0 && System.nanoTime() < graceEnd) {
      Thread.sleep(DRAIN_POLL.toMillis());
    }
    CpuMeter.Usage usage = cpu.stop();
    Checks.Summary after = checks.summary();
    return judge(step, length, acceptedInWindow, usage, before, after);
  }

  private void send(StepMeter step, ClientSession[] pair, long intendedNanos) {
    ClientSession sender = pair[0];
    ClientSession receiver = pair[1];
    String clientMsgId = "m" + ids.incrementAndGet();
    SentMessage m = new SentMessage(clientMsgId, step, intendedNanos, receiver.id());
    ledger.put(clientMsgId, m);
    checks.loss.sent(clientMsgId, Set.of(receiver.id()));
    step.sent.increment();
    ClientFrame frame =
        ClientFrame.newBuilder()
            .setSend(
                Send.newBuilder()
                    .setClientMsgId(clientMsgId)
                    .setTo("user:" + receiver.user())
                    .setText(clientMsgId + " " + padding))
            .build();
    if (!sender.send(frame) && m.fail()) {
      step.error(CLIENT_SEND_FAILED);
    }
  }

  @Override
  public void onAccepted(ClientSession session, Accepted accepted, long nowNanos) {
    SentMessage m = ledger.get(accepted.getClientMsgId());
    if (m != null && m.accept()) {
      acceptedTotal.increment();
      m.step.accepted.increment();
      m.step.accept.recordNanos(nowNanos - m.intendedNanos);
      acceptTimeline.record(m.intendedNanos, nowNanos - m.intendedNanos);
      checks.loss.accepted(m.clientMsgId);
    }
  }

  @Override
  public void onMessage(ClientSession session, Message message, long nowNanos) {
    if (message.getFrom().equals(session.user())) {
      return; // the sender's own copy: order and duplicates are checked by the session
    }
    String text = message.getText();
    int space = text.indexOf(' ');
    SentMessage m = ledger.get(space < 0 ? text : text.substring(0, space));
    if (m == null || !m.receiver.equals(session.id())) {
      return;
    }
    checks.loss.delivered(m.clientMsgId, session.id());
    if (m.deliver()) {
      m.step.delivered.increment();
      m.step.delivery.recordNanos(nowNanos - m.intendedNanos);
      deliveryTimeline.record(m.intendedNanos, nowNanos - m.intendedNanos);
    }
  }

  @Override
  public void onError(ClientSession session, String ref, String code, long nowNanos) {
    SentMessage m = ledger.get(ref);
    if (m != null && m.fail()) {
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
    long lost = sent - Math.min(accepted, delivered);
    List<String> failures = new ArrayList<>();
    if (accept.p99() > options.maxP99Ms()) {
      failures.add("accept p99 " + accept.p99() + " ms > " + options.maxP99Ms());
    }
    if (delivery.p99() > options.maxP99Ms()) {
      failures.add("delivery p99 " + delivery.p99() + " ms > " + options.maxP99Ms());
    }
    if (lost > 0) {
      failures.add(lost + " of " + sent + " not accepted and delivered");
    }
    if (achieved < options.minAchieved() * step.offeredPerSecond) {
      failures.add(String.format("achieved %.0f/s < %.0f%% of offered", achieved, options.minAchieved() * 100));
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

  /** Reads every pair's inbox back from its welcome position: stored must equal delivered live. */
  private void checkStored(List<ClientSession[]> pairs) {
    List<ClientSession> toCheck = new ArrayList<>();
    pairs.forEach(p -> toCheck.addAll(List.of(p)));
    for (int from = 0; from < toCheck.size(); from += STORED_CHECK_CONCURRENCY) {
      List<ClientSession> batch = toCheck.subList(from, Math.min(toCheck.size(), from + STORED_CHECK_CONCURRENCY));
      List<CompletableFuture<Long>> counts = new ArrayList<>();
      for (ClientSession s : batch) {
        counts.add(s.countStored(ClientSession.INBOX, s.welcomeSeq(ClientSession.INBOX), SYNC_PAGE).toCompletableFuture());
      }
      for (int i = 0; i < batch.size(); i++) {
        ClientSession s = batch.get(i);
        try {
          long stored = counts.get(i).get(STORED_CHECK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          checks.stored.compare(new StreamKey(s.id(), ClientSession.INBOX), stored, s.liveItems(ClientSession.INBOX));
        } catch (Exception e) {
          problems.add("stored check of " + s.user() + " failed: " + e);
        }
      }
    }
  }

  private static void closeAll(List<ClientSession> sessions) {
    sessions.forEach(ClientSession::close);
    long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
    for (ClientSession s : sessions) {
      try {
        s.closed().get(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        return; // the connector's shutdown ends what is left
      }
    }
  }

  private LadderResult result(SessionRamp.Outcome ramp, List<StepResult> steps) {
    Optional<Integer> highest = Optional.empty();
    for (StepResult s : steps) {
      if (s.passed()) {
        highest = Optional.of(Math.max(highest.orElse(0), s.offeredPerSecond()));
      }
    }
    for (var lost : checks.loss.lost()) {
      if (problems.size() < MAX_PROBLEMS_LISTED) {
        problems.add("lost: " + lost.id() + " never reached " + lost.missing());
      }
    }
    checks.stored.mismatches().stream().limit(MAX_PROBLEMS_LISTED)
        .forEach(m -> problems.add("stored " + m.stored() + " != delivered " + m.live() + " on " + m.key()));
    return new LadderResult(
        target,
        options.url(),
        options.sessions(),
        options.pairs(),
        ramp.sessionsPerSecond(),
        ramp.handshake().percentiles(),
        List.copyOf(steps),
        highest,
        checks.summary(),
        List.copyOf(problems),
        acceptTimeline.points(),
        deliveryTimeline.points());
  }

}
