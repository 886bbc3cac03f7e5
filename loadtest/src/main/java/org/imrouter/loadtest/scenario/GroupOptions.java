package org.imrouter.loadtest.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.imrouter.loadtest.cli.Flags;

/**
 * Settings of the group fan-out ladder.
 *
 * @param members sessions in the one group, all online; each post reaches all of them (the
 *     poster included), so deliveries/s = posts/s × members. The router allows up to {@code
 *     router.limits.group-size} (1000 by default).
 */
record GroupOptions(
    String url, int members, int connectConcurrency, Duration welcomeTimeout, Optional<String> localAddress, LadderSettings ladder) {
  static final int DEFAULT_MEMBERS = 100;
  /** Posts per second; at 100 members the top step is 40,000 deliveries/s (DESIGN §9's target). */
  static final List<Integer> DEFAULT_RATES = List.of(1, 2, 4, 8, 16, 32, 64, 128, 256, 400);

  GroupOptions {
    if (members < 2) {
      throw new IllegalArgumentException("a group ladder needs at least 2 members, got " + members);
    }
  }

  /** The same ladder against another endpoint, measuring no external process (the in-process relay). */
  GroupOptions against(String otherUrl) {
    return new GroupOptions(otherUrl, members, connectConcurrency, welcomeTimeout, localAddress, ladder.withoutProcesses());
  }

  static GroupOptions from(Flags flags) {
    return new GroupOptions(
        flags.string("url", System.getenv().getOrDefault("ROUTER_WS_URL", DmOptions.DEFAULT_URL)),
        flags.integer("members", DEFAULT_MEMBERS),
        flags.integer("connect-concurrency", DmOptions.DEFAULT_CONNECT_CONCURRENCY),
        flags.duration("welcome-timeout", DmOptions.DEFAULT_WELCOME_TIMEOUT),
        flags.optional("local-address"),
        LadderSettings.from(flags, DEFAULT_RATES));
  }
}
