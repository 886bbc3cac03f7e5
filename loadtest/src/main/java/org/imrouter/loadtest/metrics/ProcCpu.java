package org.imrouter.loadtest.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * CPU time a process has used, from {@code /proc/<pid>/stat} (utime + stime). Measuring the
 * server's CPU per message this way needs no agent in the server and works for any JVM or for
 * Cassandra alike.
 */
public final class ProcCpu {
  /** {@code getconf CLK_TCK} on Linux: the unit of utime and stime. */
  static final long CLOCK_TICKS_PER_SECOND = 100;

  private static final long MILLIS_PER_SECOND = 1000;
  /** utime and stime are fields 14 and 15; after the ")" that ends the command name they are 12 and 13. */
  private static final int UTIME_AFTER_COMM = 11;

  private static final int STIME_AFTER_COMM = 12;

  private ProcCpu() {}

  /** CPU milliseconds used so far by the process, or empty when it cannot be read. */
  public static OptionalLong cpuMillis(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      return OptionalLong.of(parseCpuMillis(stat));
    } catch (IOException | RuntimeException e) {
      return OptionalLong.empty();
    }
  }

  public static OptionalLong ownCpuMillis() {
    return cpuMillis(ProcessHandle.current().pid());
  }

  /** Parses a stat line; the command name may hold spaces and parentheses, so split after the last ")". */
  static long parseCpuMillis(String stat) {
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
    long ticks = Long.parseLong(fields[UTIME_AFTER_COMM]) + Long.parseLong(fields[STIME_AFTER_COMM]);
    return ticks * MILLIS_PER_SECOND / CLOCK_TICKS_PER_SECOND;
  }
}
