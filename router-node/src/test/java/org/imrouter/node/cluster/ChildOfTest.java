package org.imrouter.node.cluster;

import java.io.IOException;
import java.io.InputStream;

/**
 * Runs a router node's real main class ({@code org.imrouter.node.bootstrap.Main}) in a child JVM
 * of a test, and ends that JVM at once when the test JVM is gone (its end of our stdin closes),
 * so that no node outlives an aborted test run. Nothing else differs from the production start.
 */
public final class ChildOfTest {
  /** Exit status when the parent vanished: like a SIGKILL, no shutdown hooks. */
  private static final int ORPHANED = 137;

  private ChildOfTest() {}

  public static void main(String[] args) throws Exception {
    Thread watchdog =
        new Thread(
            () -> {
              InputStream in = System.in;
              try {
                while (in.read() != -1) {
                  // the parent never writes; read() returns -1 only when it is gone
                }
              } catch (IOException e) {
                // a broken pipe means the same
              }
              Runtime.getRuntime().halt(ORPHANED);
            },
            "parent-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    org.imrouter.node.bootstrap.Main.main(args);
  }
}
