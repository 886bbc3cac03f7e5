package org.imrouter.loadtest.report;

import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.imrouter.loadtest.metrics.LatencyTimeline;
import org.imrouter.loadtest.metrics.Percentiles;

/**
 * A self-contained HTML report: the step tables and, per target, inline SVG charts of the latency
 * percentiles of every second of the run. No script and nothing fetched from the network, so the
 * file can be archived and opened anywhere.
 */
public final class HtmlReport {
  private static final int WIDTH = 900;
  private static final int HEIGHT = 260;
  private static final int LEFT = 60;
  private static final int RIGHT = 20;
  private static final int TOP = 20;
  private static final int BOTTOM = 40;
  private static final int Y_TICKS = 5;
  private static final int X_TICKS = 10;
  /** Head-room above the highest p99, so the p99 line never runs along the top edge. */
  private static final double Y_HEADROOM = 1.2;

  private record Series(String name, String color, ToDoubleFunction<Percentiles> value) {}

  private static final List<Series> SERIES =
      List.of(
          new Series("p50", "#2b8a3e", Percentiles::p50),
          new Series("p90", "#1971c2", Percentiles::p90),
          new Series("p99", "#e8590c", Percentiles::p99),
          new Series("max", "#adb5bd", Percentiles::max));

  private HtmlReport() {}

  public static String render(RunReport r) {
    StringBuilder h = new StringBuilder();
    h.append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
        .append(esc(r.scenario() + " " + r.startedAt()))
        .append("</title><style>")
        .append("body{font-family:sans-serif;margin:24px;color:#212529}table{border-collapse:collapse;font-size:13px}")
        .append("td,th{border:1px solid #dee2e6;padding:3px 8px;text-align:right}th{background:#f1f3f5}")
        .append(".pass{color:#2b8a3e;font-weight:bold}.fail{color:#c92a2a;font-weight:bold}")
        .append("svg{background:#fff;border:1px solid #dee2e6;margin:6px 0}</style></head><body>");
    h.append("<h1>").append(esc(r.scenario())).append(" — ").append(r.passed() ? "<span class=pass>PASS</span>" : "<span class=fail>FAIL</span>").append("</h1>");
    h.append("<p>run ").append(esc(r.runId())).append(", started ").append(esc(r.startedAt())).append("</p>");
    h.append("<p>flags: <code>").append(esc(r.flags().toString())).append("</code></p>");
    r.storage().ifPresent(b -> h.append("<h2>Storage baseline</h2><pre>").append(esc(ReportTable.storage(b))).append("</pre>"));
    if (!r.ratios().isEmpty()) {
      h.append("<h2>Ratios</h2><ul>");
      r.ratios().forEach((k, v) -> h.append("<li>").append(esc(k)).append(": ").append(String.format(Locale.ROOT, "%.2f", v)).append("</li>"));
      h.append("</ul>");
    }
    for (LadderResult l : r.ladders()) {
      h.append("<h2>").append(esc(l.target())).append(" — ").append(esc(l.url())).append("</h2>");
      h.append("<pre>").append(esc(ReportTable.summary(l))).append("</pre>");
      steps(l.steps(), h);
      chart("accept latency (intended send → accepted), ms per second of the run", l.acceptTimeline(), h);
      chart("delivery latency (intended send → receiver's message), ms per second of the run", l.deliveryTimeline(), h);
    }
    r.results().forEach((name, result) -> h.append("<h2>").append(esc(name)).append("</h2><pre>").append(esc(Json.write(result))).append("</pre>"));
    if (!r.notes().isEmpty()) {
      h.append("<h2>Notes</h2><ul>");
      r.notes().forEach(n -> h.append("<li>").append(esc(n)).append("</li>"));
      h.append("</ul>");
    }
    return h.append("</body></html>\n").toString();
  }

  private static void steps(List<StepResult> steps, StringBuilder h) {
    h.append("<table><tr><th>offered/s</th><th>achieved/s</th><th>deliveries/s</th><th>sent</th><th>accept p50</th><th>p90</th><th>p99</th><th>max</th>")
        .append("<th>delivery p50</th><th>p90</th><th>p99</th><th>max</th><th>errors</th><th>gaps</th><th>dups</th><th>lost</th>")
        .append("<th>server ms/msg</th><th>cassandra ms/msg</th><th>loadgen ms/msg</th><th>result</th></tr>");
    for (StepResult s : steps) {
      h.append("<tr>")
          .append(td(Integer.toString(s.offeredPerSecond())))
          .append(td(String.format(Locale.ROOT, "%.0f", s.achievedPerSecond())))
          .append(td(String.format(Locale.ROOT, "%.0f", s.deliveriesPerSecond())))
          .append(td(Long.toString(s.sent())));
      for (Percentiles p : List.of(s.accept(), s.delivery())) {
        h.append(td(ReportTable.ms(p.p50()))).append(td(ReportTable.ms(p.p90()))).append(td(ReportTable.ms(p.p99()))).append(td(ReportTable.ms(p.max())));
      }
      h.append(td(ReportTable.errors(s.errors())))
          .append(td(Long.toString(s.gaps() + s.outOfOrder())))
          .append(td(Long.toString(s.duplicates())))
          .append(td(Long.toString(s.lost())))
          .append(td(ReportTable.cpu(s.serverCpuMsPerMsg())))
          .append(td(ReportTable.cpu(s.cassandraCpuMsPerMsg())))
          .append(td(ReportTable.cpu(s.loadgenCpuMsPerMsg())))
          .append("<td class=").append(s.passed() ? "pass>PASS" : "fail>FAIL " + esc(String.join("; ", s.failures()))).append("</td></tr>");
    }
    h.append("</table>");
  }

  private static void chart(String title, List<LatencyTimeline.Point> points, StringBuilder h) {
    h.append("<h3>").append(esc(title)).append("</h3>");
    if (points.isEmpty()) {
      h.append("<p>no samples</p>");
      return;
    }
    long lastSecond = points.get(points.size() - 1).second();
    double yMax = Y_HEADROOM * points.stream().mapToDouble(p -> p.latency().p99()).max().orElse(1);
    yMax = Math.max(yMax, 1);
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;
    h.append(String.format(Locale.ROOT, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">", WIDTH, HEIGHT, WIDTH, HEIGHT));
    h.append(String.format(Locale.ROOT, "<defs><clipPath id=\"plot%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath></defs>", System.identityHashCode(points), LEFT, TOP, plotW, plotH));
    for (int i = 0; i <= Y_TICKS; i++) {
      double v = yMax * i / Y_TICKS;
      double y = TOP + plotH - plotH * (double) i / Y_TICKS;
      h.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#f1f3f5\"/>", LEFT, LEFT + plotW, y, y));
      h.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>", LEFT - 6, y + 4, ReportTable.ms(v)));
    }
    long xStep = Math.max(1, (lastSecond + X_TICKS - 1) / X_TICKS);
    for (long s = 0; s <= lastSecond; s += xStep) {
      double x = x(s, lastSecond, plotW);
      h.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%ds</text>", x, HEIGHT - BOTTOM + 16, s));
    }
    h.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#868e96\"/>", LEFT, TOP, plotW, plotH));
    for (Series series : SERIES) {
      StringBuilder pts = new StringBuilder();
      for (LatencyTimeline.Point p : points) {
        double y = TOP + plotH - plotH * Math.min(series.value().applyAsDouble(p.latency()), yMax * Y_HEADROOM) / yMax;
        pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(p.second(), lastSecond, plotW), y));
      }
      h.append(String.format(Locale.ROOT, "<polyline clip-path=\"url(#plot%d)\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>", System.identityHashCode(points), series.color(), pts.toString().trim()));
    }
    int lx = LEFT + 10;
    for (Series series : SERIES) {
      h.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>", lx, HEIGHT - 8, series.color(), series.name()));
      lx += 50;
    }
    h.append("</svg>");
  }

  private static double x(long second, long lastSecond, int plotW) {
    return LEFT + (lastSecond == 0 ? 0 : plotW * (double) second / lastSecond);
  }

  private static String td(String v) {
    return "<td>" + esc(v) + "</td>";
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
