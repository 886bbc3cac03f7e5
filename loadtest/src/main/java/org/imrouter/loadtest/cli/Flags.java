package org.imrouter.loadtest.cli;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Command-line flags: {@code --name value}, {@code --name=value}, or a bare {@code --name} (a
 * boolean set to true). Every flag a scenario reads is declared by reading it with its default;
 * {@link #rejectUnknown()} then fails the run on a misspelt flag instead of silently using a
 * default.
 */
public final class Flags {
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)?");

  private final Map<String, String> values;
  private final Set<String> read = new HashSet<>();

  private Flags(Map<String, String> values) {
    this.values = values;
  }

  public static Flags parse(List<String> args) {
    Map<String, String> values = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (!arg.startsWith("--") || arg.length() == 2) {
        throw new IllegalArgumentException("expected --flag, got " + arg);
      }
      String name = arg.substring(2);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        values.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("--")) {
        values.put(name, args.get(++i));
      } else {
        values.put(name, "true");
      }
    }
    return new Flags(values);
  }

  public String string(String name, String defaultValue) {
    read.add(name);
    return values.getOrDefault(name, defaultValue);
  }

  public Optional<String> optional(String name) {
    read.add(name);
    return Optional.ofNullable(values.get(name));
  }

  public int integer(String name, int defaultValue) {
    return Integer.parseInt(string(name, Integer.toString(defaultValue)).trim());
  }

  public double decimal(String name, double defaultValue) {
    return Double.parseDouble(string(name, Double.toString(defaultValue)).trim());
  }

  public boolean bool(String name, boolean defaultValue) {
    String v = string(name, Boolean.toString(defaultValue)).trim().toLowerCase();
    if (!v.equals("true") && !v.equals("false")) {
      throw new IllegalArgumentException("--" + name + " takes true or false, got " + v);
    }
    return Boolean.parseBoolean(v);
  }

  public Optional<Long> optionalLong(String name) {
    return optional(name).map(v -> Long.parseLong(v.trim()));
  }

  /** A comma-separated list of integers, e.g. {@code --rates 100,200,400}. */
  public List<Integer> integers(String name, List<Integer> defaultValue) {
    Optional<String> v = optional(name);
    if (v.isEmpty()) {
      return defaultValue;
    }
    List<Integer> out = new ArrayList<>();
    for (String part : v.get().split(",")) {
      if (!part.isBlank()) {
        out.add(Integer.parseInt(part.trim()));
      }
    }
    return List.copyOf(out);
  }

  /** {@code 500ms}, {@code 30s}, {@code 10m}, {@code 1h}; a bare number is seconds. */
  public Duration duration(String name, Duration defaultValue) {
    Optional<String> v = optional(name);
    return v.isEmpty() ? defaultValue : parseDuration(v.get().trim());
  }

  public static Duration parseDuration(String text) {
    Matcher m = DURATION.matcher(text);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a duration: " + text + " (e.g. 500ms, 30s, 10m)");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> Duration.ofMillis(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofSeconds(n);
    };
  }

  /** All flags as given, for the report. */
  public Map<String, String> asMap() {
    return Map.copyOf(values);
  }

  public void rejectUnknown() {
    List<String> unknown = new ArrayList<>();
    for (String name : values.keySet()) {
      if (!read.contains(name)) {
        unknown.add("--" + name);
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown flag(s) for this scenario: " + String.join(" ", unknown));
    }
  }
}
