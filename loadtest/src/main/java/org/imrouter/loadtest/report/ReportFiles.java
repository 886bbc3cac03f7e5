package org.imrouter.loadtest.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a run's report.json and report.html into its output directory. */
public final class ReportFiles {
  private ReportFiles() {}

  public static Path write(RunReport report, Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("report.json"), Json.write(report), StandardCharsets.UTF_8);
    Path html = dir.resolve("report.html");
    Files.writeString(html, HtmlReport.render(report), StandardCharsets.UTF_8);
    return html;
  }
}
