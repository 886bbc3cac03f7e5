package org.imrouter.loadtest;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.imrouter.protocol.v1.CreateGroupRequest;
import org.imrouter.protocol.v1.GetHistoryRequest;
import org.imrouter.protocol.v1.GetStreamInfoRequest;
import org.imrouter.protocol.v1.IngressClient;
import org.imrouter.protocol.v1.MembersRequest;
import org.imrouter.protocol.v1.PublishRequest;
import org.imrouter.protocol.v1.SubscribeRequest;

/**
 * The admin command-line client of the gRPC ingress: what an SRE or a developer reaches for
 * first. Prints every reply as one JSON line; errors as "ERROR <status>: <code>: <message>".
 *
 * <pre>
 *   publish --to user:bob --as system:ops --text "deploy done" [--key K]
 *   create-group --group g1 --as alice [--title Team] [--members bob,carol]
 *   add --group g1 --as alice --members dave      remove --group g1 --as alice --members dave
 *   history --stream inbox:bob|group:g1 [--after 0] [--limit 50]
 *   info --stream group:g1
 *   tail --stream group:g1 [--after 0]            follows the stream until interrupted
 * </pre>
 *
 * Environment: ROUTER_GRPC_ADDR (127.0.0.1:8081), ROUTER_BACKEND_TOKEN (the node's
 * development backend token by default).
 */
public final class AdminCli {
  private static final String DEFAULT_ADDR = "127.0.0.1:8081";
  private static final String DEV_BACKEND_TOKEN = "dev-backend-token";
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
  private static final JsonFormat.Printer JSON = JsonFormat.printer().omittingInsignificantWhitespace();

  private AdminCli() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: admin publish|create-group|add|remove|history|info|tail [--option value]...");
      System.exit(2);
    }
    Map<String, String> opt = options(Arrays.copyOfRange(args, 1, args.length));
    String[] addr = System.getenv().getOrDefault("ROUTER_GRPC_ADDR", DEFAULT_ADDR).split(":");
    String token = "Bearer " + System.getenv().getOrDefault("ROUTER_BACKEND_TOKEN", DEV_BACKEND_TOKEN);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "admin");
    IngressClient client =
        IngressClient.create(
            GrpcClientSettings.connectToServiceAt(addr[0], Integer.parseInt(addr[1]), system).withTls(false), system);
    int status = 0;
    try {
      CompletionStage<? extends MessageOrBuilder> call =
          switch (args[0]) {
            case "publish" -> client.publish().addHeader("authorization", token).invoke(
                PublishRequest.newBuilder()
                    .setTo(need(opt, "to"))
                    .setAs(opt.getOrDefault("as", "system:admin"))
                    .setIdempotencyKey(opt.getOrDefault("key", "admin-" + System.nanoTime()))
                    .setText(need(opt, "text"))
                    .build());
            case "create-group" -> client.createGroup().addHeader("authorization", token).invoke(
                CreateGroupRequest.newBuilder()
                    .setGroupId(need(opt, "group"))
                    .setAs(userAs(need(opt, "as")))
                    .setTitle(opt.getOrDefault("title", opt.get("group")))
                    .addAllMembers(list(opt.get("members")))
                    .build());
            case "add" -> client.addMembers().addHeader("authorization", token).invoke(members(opt));
            case "remove" -> client.removeMembers().addHeader("authorization", token).invoke(members(opt));
            case "history" -> client.getHistory().addHeader("authorization", token).invoke(
                GetHistoryRequest.newBuilder()
                    .setStream(need(opt, "stream"))
                    .setAfterSeq(Long.parseLong(opt.getOrDefault("after", "0")))
                    .setLimit(Integer.parseInt(opt.getOrDefault("limit", "50")))
                    .build());
            case "info" -> client.getStreamInfo().addHeader("authorization", token).invoke(
                GetStreamInfoRequest.newBuilder().setStream(need(opt, "stream")).build());
            case "tail" -> null;
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
          };
      if (call == null) {
        client.subscribe()
            .addHeader("authorization", token)
            .invoke(SubscribeRequest.newBuilder().setStream(need(opt, "stream")).setAfterSeq(Long.parseLong(opt.getOrDefault("after", "0"))).build())
            .runForeach(item -> System.out.println(JSON.print(item)), system)
            .toCompletableFuture()
            .get();
      } else {
        System.out.println(JSON.print(call.toCompletableFuture().get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS)));
      }
    } catch (java.util.concurrent.ExecutionException e) {
      System.err.println("ERROR " + e.getCause().getMessage());
      status = 1;
    } catch (IllegalArgumentException e) {
      System.err.println("ERROR " + e.getMessage());
      status = 2;
    } finally {
      client.close();
      system.terminate();
    }
    System.exit(status);
  }

  private static MembersRequest members(Map<String, String> opt) {
    String as = need(opt, "as");
    return MembersRequest.newBuilder()
        .setGroupId(need(opt, "group"))
        .setAs(as.contains(":") ? as : "user:" + as)
        .addAllMembers(list(need(opt, "members")))
        .build();
  }

  private static String userAs(String as) {
    return as.contains(":") ? as : "user:" + as;
  }

  private static List<String> list(String csv) {
    return csv == null || csv.isEmpty() ? List.of() : List.of(csv.split(","));
  }

  private static String need(Map<String, String> opt, String key) {
    String v = opt.get(key);
    if (v == null) {
      throw new IllegalArgumentException("--" + key + " is required");
    }
    return v;
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> opt = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!args[i].startsWith("--")) {
        throw new IllegalArgumentException("expected --option, got " + args[i]);
      }
      opt.put(args[i].substring(2), args[i + 1]);
    }
    return opt;
  }
}
