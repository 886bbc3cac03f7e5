package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.imrouter.loadtest.cli.Flags;

/**
 * How a ladder runs, whatever it sends (dm, group, hot): its rates, step length, warmup, drain
 * grace, pass bar, and the processes whose CPU it charges per message.
 *
 * @param maxP99Ms a step fails when accept or delivery p99 is above this
 * @param minAchieved a step fails when fewer than this fraction of the offered rate was accepted
 */
record LadderSettings(
    List<Integer> rates,
    Duration step,
    Duration warmup,
    Duration drainGrace,
    double maxP99Ms,
    double minAchieved,
    boolean continueAfterFailure,
    int textBytes,
    Optional<Long> serverPid,
    Optional<Long> cassandraPid) {

  /** Reads the ladder flags every ladder scenario shares; only the default rates differ. */
  static LadderSettings from(Flags flags, List<Integer> defaultRates) {
    return new LadderSettings(
        flags.integers("rates", defaultRates),
        flags.duration("step-seconds", DmOptions.DEFAULT_STEP),
        flags.duration("warmup", DmOptions.DEFAULT_WARMUP),
        flags.duration("drain-grace", DmOptions.DEFAULT_DRAIN_GRACE),
        flags.decimal("max-p99-ms", DmOptions.DEFAULT_MAX_P99_MS),
        DmOptions.MIN_ACHIEVED,
        flags.bool("continue", false),
        flags.integer("text-bytes", DmOptions.DEFAULT_TEXT_BYTES),
        flags.optionalLong("server-pid"),
        flags.optionalLong("cassandra-pid"));
  }

  /** The same ladder charging no external process (a target inside the generator's own JVM). */
  LadderSettings withoutProcesses() {
    return new LadderSettings(
        rates, step, warmup, drainGrace, maxP99Ms, minAchieved, continueAfterFailure, textBytes, Optional.empty(), Optional.empty());
  }
}
