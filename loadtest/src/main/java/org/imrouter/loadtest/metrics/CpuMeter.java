package org.imrouter.loadtest.metrics;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * CPU used by the server, its Cassandra and the load generator itself between {@link #start()}
 * and {@link #stop()}; a process that was not named (no pid flag) reads as empty.
 */
public final class CpuMeter {
  /** CPU milliseconds each process used over one interval. */
  public record Usage(Optional<Long> serverMs, Optional<Long> cassandraMs, Optional<Long> loadgenMs) {
    public static Optional<Double> perMessage(Optional<Long> ms, long messages) {
      return messages == 0 ? Optional.empty() : ms.map(v -> (double) v / messages);
    }
  }

  private final Optional<Long> serverPid;
  private final Optional<Long> cassandraPid;
  private OptionalLong server0 = OptionalLong.empty();
  private OptionalLong cassandra0 = OptionalLong.empty();
  private OptionalLong own0 = OptionalLong.empty();

  public CpuMeter(Optional<Long> serverPid, Optional<Long> cassandraPid) {
    this.serverPid = serverPid;
    this.cassandraPid = cassandraPid;
  }

  public void start() {
    server0 = read(serverPid);
    cassandra0 = read(cassandraPid);
    own0 = ProcCpu.ownCpuMillis();
  }

  public Usage stop() {
    return new Usage(
        delta(server0, read(serverPid)), delta(cassandra0, read(cassandraPid)), delta(own0, ProcCpu.ownCpuMillis()));
  }

  private static OptionalLong read(Optional<Long> pid) {
    return pid.isPresent() ? ProcCpu.cpuMillis(pid.get()) : OptionalLong.empty();
  }

  private static Optional<Long> delta(OptionalLong before, OptionalLong after) {
    return before.isPresent() && after.isPresent()
        ? Optional.of(after.getAsLong() - before.getAsLong())
        : Optional.empty();
  }
}
