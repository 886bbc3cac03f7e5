package org.imrouter.loadtest.report;

import java.lang.reflect.RecordComponent;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A small JSON writer for the report: records become objects (component names as keys), empty
 * Optionals become null. The report types are plain records, so no mapping library is needed.
 */
public final class Json {
  private Json() {}

  public static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(value, out, 0);
    return out.append('\n').toString();
  }

  private static void write(Object value, StringBuilder out, int depth) {
    if (value instanceof Optional<?> o) {
      write(o.orElse(null), out, depth);
    } else if (value == null) {
      out.append("null");
    } else if (value instanceof String s) {
      string(s, out);
    } else if (value instanceof Double d) {
      out.append(d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.3f", d));
    } else if (value instanceof Number || value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Enum<?> e) {
      string(e.name(), out);
    } else if (value instanceof Map<?, ?> map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        first = separator(first, out, depth + 1);
        string(String.valueOf(e.getKey()), out);
        out.append(": ");
        write(e.getValue(), out, depth + 1);
      }
      close(first, '}', out, depth);
    } else if (value instanceof Collection<?> list) {
      out.append('[');
      boolean first = true;
      for (Object item : list) {
        first = separator(first, out, depth + 1);
        write(item, out, depth + 1);
      }
      close(first, ']', out, depth);
    } else if (value.getClass().isRecord()) {
      out.append('{');
      boolean first = true;
      for (RecordComponent c : value.getClass().getRecordComponents()) {
        first = separator(first, out, depth + 1);
        string(c.getName(), out);
        out.append(": ");
        try {
          write(c.getAccessor().invoke(value), out, depth + 1);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(e);
        }
      }
      close(first, '}', out, depth);
    } else {
      string(value.toString(), out);
    }
  }

  private static boolean separator(boolean first, StringBuilder out, int depth) {
    if (!first) {
      out.append(',');
    }
    out.append('\n').append("  ".repeat(depth));
    return false;
  }

  private static void close(boolean empty, char bracket, StringBuilder out, int depth) {
    if (!empty) {
      out.append('\n').append("  ".repeat(depth));
    }
    out.append(bracket);
  }

  private static void string(String s, StringBuilder out) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}
