package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.StepResult;

/**
 * The direct-message ladder against one target: opens the sessions, then runs the shared ladder
 * over the sender→receiver pairs, and finally reads every pair's inbox back to check stored ==
 * delivered.
 */
public final class DmLadder {
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

  private final String userPrefix;
  private final DmOptions options;
  private final Checks checks = new Checks();
  private final LadderRunner runner;

  /**
   * @param target the name rows are reported under ("router", "baseline-ws")
   * @param onStep called with each step's result as soon as it is judged (the live table)
   */
  public DmLadder(String target, String userPrefix, DmOptions options, Consumer<StepResult> onStep) {
    this.userPrefix = userPrefix;
    this.options = options;
    this.runner = new LadderRunner(target, options.ladder(), checks, onStep);
  }

  public LadderResult run() throws InterruptedException {
    try (WsConnector connector = new WsConnector("loadgen-" + runner.target(), options.localAddress())) {
      List<SessionSpec> specs = new ArrayList<>();
      for (int i = 0; i < options.sessions(); i++) {
        specs.add(new SessionSpec(runner.target() + "-s" + i, userPrefix + i));
      }
      SessionRamp.Outcome ramp =
          new SessionRamp(connector, options.url(), checks, DevTokens::mint)
              .open(specs, options.connectConcurrency(), options.welcomeTimeout(), runner);
      List<String> problems = new ArrayList<>();
      if (!ramp.failures().isEmpty()) {
        problems.add(ramp.failures().size() + " sessions failed to connect, first: " + ramp.failures().get(0));
        return runner.result(options.url(), options.sessions(), options.pairs(), ramp, List.of(), problems);
      }
      List<ClientSession> sessions = ramp.sessions();
      List<Traffic.Planned> pairs = new ArrayList<>();
      List<ClientSession> ends = new ArrayList<>();
      for (int p = 0; p < options.pairs(); p++) {
        ClientSession sender = sessions.get(2 * p);
        ClientSession receiver = sessions.get(2 * p + 1);
        pairs.add(new Traffic.Planned(sender, "user:" + receiver.user(), Audience.of(List.of(receiver))));
        ends.addAll(List.of(sender, receiver));
      }
      List<StepResult> steps = runner.run(i -> pairs.get((int) (i % pairs.size())));
      StoredCheck.run(ends, ClientSession.INBOX, s -> s.welcomeSeq(ClientSession.INBOX), checks, problems);
      closeAll(sessions);
      return runner.result(options.url(), options.sessions(), options.pairs(), ramp, steps, problems);
    }
  }

  static void closeAll(List<ClientSession> sessions) {
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
}
