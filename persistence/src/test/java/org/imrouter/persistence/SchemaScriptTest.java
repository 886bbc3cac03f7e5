package org.imrouter.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The committed production schema is what the plugin in use would create: it cannot drift. */
class SchemaScriptTest {
  private static final Path COMMITTED = Path.of("..", "ops", "cassandra", "schema.cql");

  @Test
  void committedSchemaMatchesThePlugin() throws Exception {
    String generated = SchemaScript.generate(List.of("datacenter1:3"));
    assertTrue(generated.contains("NetworkTopologyStrategy"));
    assertTrue(generated.contains("im_router.messages"));
    assertTrue(generated.contains("im_router_snapshot.snapshots"));
    assertEquals(generated, Files.readString(COMMITTED), "regenerate with ops/cassandra/print-schema.sh > ops/cassandra/schema.cql");
  }
}
