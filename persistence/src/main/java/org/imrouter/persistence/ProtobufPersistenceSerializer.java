package org.imrouter.persistence;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import java.io.NotSerializableException;
import java.util.Map;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.serialization.SerializerWithStringManifest;
import org.imrouter.protocol.persist.GroupEvent;
import org.imrouter.protocol.persist.GroupSnapshot;
import org.imrouter.protocol.persist.InboxEvent;
import org.imrouter.protocol.persist.UserSnapshot;

/**
 * Serializes the persisted protobuf types: events and snapshots. The manifest is a short,
 * stable name per type (never a class name), so classes can be renamed without touching stored
 * data; evolution happens inside each message, protobuf-style.
 */
public final class ProtobufPersistenceSerializer extends SerializerWithStringManifest {
  /** Serializer ids below 40 are Pekko's own. */
  public static final int IDENTIFIER = 7301;

  private static final Map<Class<?>, String> MANIFESTS =
      Map.of(
          InboxEvent.class, "inbox-event",
          GroupEvent.class, "group-event",
          UserSnapshot.class, "user-snapshot",
          GroupSnapshot.class, "group-snapshot");

  private static final Map<String, Parser<? extends MessageLite>> PARSERS =
      Map.of(
          "inbox-event", InboxEvent.parser(),
          "group-event", GroupEvent.parser(),
          "user-snapshot", UserSnapshot.parser(),
          "group-snapshot", GroupSnapshot.parser());

  public ProtobufPersistenceSerializer(ExtendedActorSystem system) {}

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public String manifest(Object o) {
    String manifest = MANIFESTS.get(o.getClass());
    if (manifest == null) {
      throw new IllegalArgumentException("not a persisted type: " + o.getClass());
    }
    return manifest;
  }

  @Override
  public byte[] toBinary(Object o) {
    return ((MessageLite) o).toByteArray();
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    Parser<? extends MessageLite> parser = PARSERS.get(manifest);
    if (parser == null) {
      throw new NotSerializableException("unknown manifest " + manifest);
    }
    try {
      return parser.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("corrupt " + manifest, e);
    }
  }
}
