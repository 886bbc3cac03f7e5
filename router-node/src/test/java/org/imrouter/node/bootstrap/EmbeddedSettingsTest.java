package org.imrouter.node.bootstrap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.imrouter.node.config.RouterSettings;
import org.imrouter.persistence.embedded.CommitLogSync;
import org.imrouter.persistence.embedded.EmbeddedCassandra;
import org.junit.jupiter.api.Test;

/** The embedded Cassandra that {@code ops/run.sh} starts, as configured by application.conf. */
class EmbeddedSettingsTest {

  private static EmbeddedCassandra.Settings embedded(Map<String, Object> overrides) {
    return Main.embeddedSettings(
        RouterSettings.fromConfig(ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load())).cassandra());
  }

  @Test
  void byDefaultAnAcceptedMessageIsOnDiskBeforeItIsAcknowledged() {
    EmbeddedCassandra.Settings settings = embedded(Map.of());
    assertEquals(CommitLogSync.DURABLE_DEFAULT, settings.commitLogSync());
    assertTrue(settings.commitLogSync().syncsBeforeAcknowledging(), settings.commitLogSync().toString());
    assertFalse(settings.throwaway(), "the run command reuses its directory: no start-up shortcuts");
  }

  @Test
  void theModeAndItsWindowAreConfigurable() {
    assertEquals(
        CommitLogSync.group(Duration.ofMillis(3)),
        embedded(Map.of("router.cassandra.embedded.commitlog-group-window", "3ms")).commitLogSync());
    assertEquals(CommitLogSync.batch(), embedded(Map.of("router.cassandra.embedded.commitlog-sync", "batch")).commitLogSync());
    assertEquals(
        CommitLogSync.periodic(Duration.ofSeconds(10)),
        embedded(Map.of("router.cassandra.embedded.commitlog-sync", "periodic")).commitLogSync());
    assertThrows(
        IllegalArgumentException.class,
        () -> embedded(Map.of("router.cassandra.embedded.commitlog-sync", "sometimes")),
        "a typo fails the start");
  }
}
