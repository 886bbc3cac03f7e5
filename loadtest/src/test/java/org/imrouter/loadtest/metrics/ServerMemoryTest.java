package org.imrouter.loadtest.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ServerMemoryTest {
  @Test
  void readsTheWholeHeapsUsedFromGcHeapInfo() {
    String g1 =
        """
        12345:
         garbage-first heap   total 262144K, used 51234K [0x00000000f0000000, 0x0000000100000000)
          region size 1024K, 3 young (3072K), 0 survivors (0K)
         Metaspace       used 40123K, committed 40704K, reserved 1089536K
        """;
    assertEquals(Optional.of(51234L * 1024), ServerMemory.parseHeapUsed(g1));
    assertEquals(Optional.empty(), ServerMemory.parseHeapUsed("12345: no such process"));
  }
}
