package org.imrouter.node.serialization;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.Deserializers;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.google.protobuf.GeneratedMessageV3;
import com.google.protobuf.Parser;
import java.io.IOException;

/**
 * Lets cluster messages carry protobuf messages (a stream item's persisted event): they are
 * written as their protobuf bytes and read back with the type's own parser, so the bytes on the
 * wire are the same evolvable format as in the journal.
 */
public final class ProtobufJacksonModule extends SimpleModule {
  public ProtobufJacksonModule() {
    super("ProtobufJacksonModule");
    addSerializer(GeneratedMessageV3.class, new ProtobufSerializer());
  }

  @Override
  public void setupModule(SetupContext context) {
    super.setupModule(context);
    context.addDeserializers(
        new Deserializers.Base() {
          @Override
          public JsonDeserializer<?> findBeanDeserializer(JavaType type, DeserializationConfig config, BeanDescription bean) {
            return GeneratedMessageV3.class.isAssignableFrom(type.getRawClass()) ? new ProtobufDeserializer(type.getRawClass()) : null;
          }
        });
  }

  private static final class ProtobufSerializer extends StdSerializer<GeneratedMessageV3> {
    ProtobufSerializer() {
      super(GeneratedMessageV3.class);
    }

    @Override
    public void serialize(GeneratedMessageV3 value, JsonGenerator gen, SerializerProvider provider) throws IOException {
      gen.writeBinary(value.toByteArray());
    }
  }

  private static final class ProtobufDeserializer extends JsonDeserializer<Object> {
    private final Parser<?> parser;

    ProtobufDeserializer(Class<?> type) {
      try {
        this.parser = (Parser<?>) type.getMethod("parser").invoke(null);
      } catch (ReflectiveOperationException e) {
        throw new IllegalArgumentException("not a generated protobuf message: " + type, e);
      }
    }

    @Override
    public Object deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      return parser.parseFrom(p.getBinaryValue());
    }
  }
}
