package org.imrouter.loadtest.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.imrouter.loadtest.DevTokens;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.loadtest.client.ClientSession;
import org.imrouter.loadtest.client.SessionListener;
import org.imrouter.loadtest.client.SessionRamp;
import org.imrouter.loadtest.client.SessionSpec;
import org.imrouter.loadtest.client.WsConnector;
import org.imrouter.loadtest.report.LadderResult;
import org.imrouter.loadtest.report.StepResult;

/**
 * Group fan-out: connects {@code members} sessions, the first creates one group with all of
 * them, and once every member saw ADDED_TO_GROUP the shared ladder posts to it with the posters
 * rotating over the members. Delivery latency is measured per member; each member's live seq
 * order on the group stream is checked from the first group item it got (it learnt of the group
 * after its welcome), and at the end each member reads the group back: stored == delivered.
 */
public final class GroupLadder {
  private final String runId;
  private final GroupOptions options;
  private final Checks checks = new Checks();
  private final LadderRunner runner;

  /** @param target the name rows are reported under ("group-100", "baseline-ws-group-100") */
  GroupLadder(String target, String runId, GroupOptions options, Consumer<StepResult> onStep) {
    this.runId = runId;
    this.options = options;
    this.runner = new LadderRunner(target, options.ladder(), checks, onStep);
  }

  LadderResult run() throws Exception {
    GroupSetup setup = new GroupSetup("lt-" + runId + "-g");
    try (WsConnector connector = new WsConnector("loadgen-group", options.localAddress())) {
      List<SessionSpec> specs = new ArrayList<>();
      for (int i = 0; i < options.members(); i++) {
        specs.add(new SessionSpec("g" + i, "lt-" + runId + "-gu" + i));
      }
      SessionRamp.Outcome ramp =
          new SessionRamp(connector, options.url(), checks, DevTokens::mint)
              .open(specs, options.connectConcurrency(), options.welcomeTimeout(), SessionListener.both(runner, setup));
      List<String> problems = new ArrayList<>();
      if (!ramp.failures().isEmpty()) {
        problems.add(ramp.failures().size() + " sessions failed to connect, first: " + ramp.failures().get(0));
        return runner.result(options.url(), options.members(), options.members(), ramp, List.of(), problems);
      }
      GroupSetup.Group group = setup.create(ramp.sessions(), options.welcomeTimeout());
      List<ClientSession> members = group.members();
      List<StepResult> steps =
          runner.run(i -> new Traffic.Planned(members.get((int) (i % members.size())), group.stream(), group.audience()));
      StoredCheck.run(members, group.stream(), s -> StoredCheck.beforeFirstLive(s, group.stream()), checks, problems);
      DmLadder.closeAll(members);
      return runner.result(options.url(), options.members(), options.members(), ramp, steps, problems);
    }
  }
}
