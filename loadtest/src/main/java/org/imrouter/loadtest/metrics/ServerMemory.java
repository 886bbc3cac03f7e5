package org.imrouter.loadtest.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's memory from outside: heap in use after a full GC ({@code jcmd PID GC.run}, then
 * {@code GC.heap_info}) and the process's resident set ({@code VmRSS} in /proc). Collecting first
 * makes "heap per session" mean live data, not garbage that happened to be around.
 */
public final class ServerMemory {
  /** One reading; empty where it could not be taken. */
  public record Sample(Optional<Long> heapUsedBytes, Optional<Long> rssBytes) {}

  private static final Pattern HEAP_USED = Pattern.compile("used (\\d+)K");
  private static final Pattern VM_RSS = Pattern.compile("VmRSS:\\s+(\\d+) kB");
  private static final long KIB = 1024;
  private static final long JCMD_TIMEOUT_SECONDS = 60;

  private ServerMemory() {}

  public static Sample sample(long pid) {
    return new Sample(heapUsedAfterGc(pid), rss(pid));
  }

  static Optional<Long> heapUsedAfterGc(long pid) {
    if (jcmd(pid, "GC.run").isEmpty()) {
      return Optional.empty();
    }
    return jcmd(pid, "GC.heap_info").flatMap(ServerMemory::parseHeapUsed);
  }

  /** The first "used NNNK" of GC.heap_info is the whole heap's (the lines after it are regions). */
  static Optional<Long> parseHeapUsed(String heapInfo) {
    Matcher m = HEAP_USED.matcher(heapInfo);
    return m.find() ? Optional.of(Long.parseLong(m.group(1)) * KIB) : Optional.empty();
  }

  static Optional<Long> rss(long pid) {
    try {
      Matcher m = VM_RSS.matcher(Files.readString(Path.of("/proc", Long.toString(pid), "status")));
      return m.find() ? Optional.of(Long.parseLong(m.group(1)) * KIB) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Optional<String> jcmd(long pid, String command) {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    try {
      Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(JCMD_TIMEOUT_SECONDS, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return Optional.empty();
      }
      return Optional.of(out);
    } catch (IOException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }
}
