package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.cli.Flags;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.ReportTable;
import org.imrouter.loadtest.report.RunReport;
import org.imrouter.loadtest.report.StepResult;

/**
 * Hot entities (DESIGN §9: one group or inbox ≥ 20× the one-write-at-a-time rate). Connects
 * {@code --senders} sessions, all members of one group, plus one receiver. Phase one: the shared
 * ladder of total msgs/s from all senders into the group; phase two: from all senders to the one
 * receiver's inbox. Beside each, one sender closed-loop for {@code --one-at-a-time} (send, wait
 * for accepted, send the next) gives the rate a one-write-at-a-time entity would allow, and the
 * ratio of the two is printed.
 */
public final class HotScenario implements Scenario {
  static final int DEFAULT_SENDERS = 200;
  static final List<Integer> DEFAULT_RATES = DmOptions.DEFAULT_RATES;
  static final Duration DEFAULT_ONE_AT_A_TIME = Duration.ofSeconds(10);

  /** One hot entity's figures: the ladder's highest passing rate beside the closed-loop rate. */
  public record Phase(String entity, Optional<Integer> highestPassing, ClosedLoopProbe.Rate oneAtATime, Optional<Double> ratio) {}

  /** Both phases. */
  public record Result(int senders, Phase group, Phase inbox) {}

  @Override
  public RunReport run(Flags flags, RunContext ctx) throws Exception {
    String url = flags.string("url", System.getenv().getOrDefault("ROUTER_WS_URL", DmOptions.DEFAULT_URL));
    int senders = flags.integer("senders", DEFAULT_SENDERS);
    int concurrency = flags.integer("connect-concurrency", DmOptions.DEFAULT_CONNECT_CONCURRENCY);
    Duration welcomeTimeout = flags.duration("welcome-timeout", DmOptions.DEFAULT_WELCOME_TIMEOUT);
    Duration oneAtATime = flags.duration("one-at-a-time", DEFAULT_ONE_AT_A_TIME);
    LadderSettings settings = LadderSettings.from(flags, DEFAULT_RATES);
    var localAddress = flags.optional("local-address");
    flags.rejectUnknown();
    if (senders < 1) {
      throw new IllegalArgumentException("--senders must be at least 1");
    }

    Checks checks = new Checks();
    LadderRunner groupLadder = new LadderRunner("hot-group", settings, checks, row(ctx));
    LadderRunner inboxLadder = new LadderRunner("hot-inbox", settings, checks, row(ctx));
    ClosedLoopProbe probe = new ClosedLoopProbe();
    GroupSetup setup = new GroupSetup("lt-" + ctx.runId() + "-hot");
    SessionListener listener =
        SessionListener.both(SessionListener.both(groupLadder, inboxLadder), SessionListener.both(probe, setup));
    List<SessionSpec> specs = new ArrayList<>();
    for (int i = 0; i < senders; i++) {
      specs.add(new SessionSpec("h" + i, "lt-" + ctx.runId() + "-hu" + i));
    }
    specs.add(new SessionSpec("hr", "lt-" + ctx.runId() + "-hr"));
    try (WsConnector connector = new WsConnector("loadgen-hot", localAddress)) {
      SessionRamp.Outcome ramp = new SessionRamp(connector, url, checks, DevTokens::mint).open(specs, concurrency, welcomeTimeout, listener);
      if (!ramp.failures().isEmpty()) {
        throw new IllegalStateException(ramp.failures().size() + " sessions failed to connect, first: " + ramp.failures().get(0));
      }
      List<ClientSession> senderSessions = ramp.sessions().subList(0, senders);
      ClientSession receiver = ramp.sessions().get(senders);
      GroupSetup.Group group = setup.create(senderSessions, welcomeTimeout);
      List<String> groupProblems = new ArrayList<>();
      List<String> inboxProblems = new ArrayList<>();

      ctx.out().print(ReportTable.header());
      List<StepResult> groupSteps =
          groupLadder.run(i -> new Traffic.Planned(senderSessions.get((int) (i % senders)), group.stream(), group.audience()));
      Phase groupPhase = phase("group", groupSteps, probe.run(senderSessions.get(0), group.stream(), oneAtATime));
      print(ctx, groupPhase);

      Audience receiverOnly = Audience.of(List.of(receiver));
      String toReceiver = "user:" + receiver.user();
      List<StepResult> inboxSteps =
          inboxLadder.run(i -> new Traffic.Planned(senderSessions.get((int) (i % senders)), toReceiver, receiverOnly));
      Phase inboxPhase = phase("inbox", inboxSteps, probe.run(senderSessions.get(0), toReceiver, oneAtATime));
      print(ctx, inboxPhase);

      StoredCheck.run(senderSessions, group.stream(), s -> StoredCheck.beforeFirstLive(s, group.stream()), checks, groupProblems);
      StoredCheck.run(List.of(receiver), ClientSession.INBOX, s -> s.welcomeSeq(ClientSession.INBOX), checks, inboxProblems);
      DmLadder.closeAll(ramp.sessions());
      List<LadderResult> ladders =
          List.of(
              groupLadder.result(url, senders + 1, senders, ramp, groupSteps, groupProblems),
              inboxLadder.result(url, senders + 1, senders, ramp, inboxSteps, inboxProblems));
      ladders.forEach(l -> ctx.out().print(ReportTable.summary(l)));
      boolean passed = ladders.stream().allMatch(l -> l.checks().violations() == 0 && l.problems().isEmpty());
      return new RunReport("hot", ctx.runId(), ctx.startedAt(), flags.asMap(), Optional.empty(), ladders,
          Map.of("hot", new Result(senders, groupPhase, inboxPhase)), Map.of(), List.of(), passed);
    }
  }

  private static Consumer<StepResult> row(RunContext ctx) {
    return step -> {
      ctx.out().print(ReportTable.row(step));
      ctx.out().flush();
    };
  }

  private static Phase phase(String entity, List<StepResult> steps, ClosedLoopProbe.Rate oneAtATime) {
    Optional<Integer> highest = LadderRunner.highestPassing(steps);
    Optional<Double> ratio = highest.filter(h -> oneAtATime.perSecond() > 0).map(h -> h / oneAtATime.perSecond());
    return new Phase(entity, highest, oneAtATime, ratio);
  }

  private static void print(RunContext ctx, Phase p) {
    ctx.out().printf(Locale.ROOT, "hot %s: highest passing %s msgs/s; one at a time %.0f msgs/s (%d accepted, %d errors); hot ÷ one-at-a-time = %s%n",
        p.entity(), p.highestPassing().map(String::valueOf).orElse("none"), p.oneAtATime().perSecond(), p.oneAtATime().accepted(),
        p.oneAtATime().errors(), p.ratio().map(r -> String.format(Locale.ROOT, "%.1f×", r)).orElse("-"));
    ctx.out().flush();
  }
}
