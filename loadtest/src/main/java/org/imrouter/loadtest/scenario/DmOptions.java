package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.imrouter.loadtest.cli.Flags;

/**
 * Settings of the direct-message ladder (dm scenario and the transport baseline); the ladder
 * itself (rates, steps, pass bar, measured processes) is {@link LadderSettings}, shared with
 * the group and hot scenarios.
 *
 * @param sessions sessions opened; the first {@code 2 × pairs} form sender→receiver pairs, the
 *     rest stay connected and idle
 */
public record DmOptions(
    String url,
    String runId,
    int sessions,
    int pairs,
    int connectConcurrency,
    LadderSettings ladder,
    Duration welcomeTimeout,
    Optional<String> localAddress) {

  static final String DEFAULT_URL = "ws://127.0.0.1:8080/v1/ws";
  static final List<Integer> DEFAULT_RATES = List.of(100, 200, 400, 800, 1200, 1600, 2000, 2400, 3000, 4000);
  static final int DEFAULT_SESSIONS = 2000;
  static final int DEFAULT_PAIRS = 50;
  static final int DEFAULT_CONNECT_CONCURRENCY = 50;
  static final Duration DEFAULT_STEP = Duration.ofSeconds(10);
  /** An unjudged step at the first rate before the ladder, so the first step does not measure JIT compilation. */
  static final Duration DEFAULT_WARMUP = Duration.ofSeconds(5);
  static final Duration DEFAULT_DRAIN_GRACE = Duration.ofSeconds(5);
  /** The pass bar of DESIGN §9's ladder. */
  static final double DEFAULT_MAX_P99_MS = 100;
  static final double MIN_ACHIEVED = 0.95;
  static final int DEFAULT_TEXT_BYTES = 64;
  static final Duration DEFAULT_WELCOME_TIMEOUT = Duration.ofSeconds(30);

  public DmOptions {
    if (pairs < 1 || 2 * pairs > sessions) {
      throw new IllegalArgumentException("need 1 ≤ pairs and 2 × pairs ≤ sessions (got pairs " + pairs + ", sessions " + sessions + ")");
    }
  }

  public static DmOptions from(Flags flags, String runId) {
    return new DmOptions(
        flags.string("url", System.getenv().getOrDefault("ROUTER_WS_URL", DEFAULT_URL)),
        runId,
        flags.integer("sessions", DEFAULT_SESSIONS),
        flags.integer("pairs", DEFAULT_PAIRS),
        flags.integer("connect-concurrency", DEFAULT_CONNECT_CONCURRENCY),
        LadderSettings.from(flags, DEFAULT_RATES),
        flags.duration("welcome-timeout", DEFAULT_WELCOME_TIMEOUT),
        flags.optional("local-address"));
  }

  /** The same ladder against another endpoint, measuring no external process (the in-process relay). */
  public DmOptions against(String otherUrl) {
    return new DmOptions(
        otherUrl, runId, sessions, pairs, connectConcurrency, ladder.withoutProcesses(), welcomeTimeout, localAddress);
  }
}
