package org.imrouter.loadtest;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A command-line chat client: connects as a user, prints every server frame as one JSON line and
 * turns typed lines into client frames.
 *
 * <pre>
 *   @bob hello            direct message to user bob
 *   #g1 hello team        message to group g1
 *   /create g1 Team bob carol
 *   /add g1 dave          /remove g1 dave        /leave g1
 *   /sync inbox 0         /sync group:g1 0
 *   /read group:g1 7
 *   {"ping":{"nonce":1}}  any line starting with { is sent as it is
 * </pre>
 */
public final class ChatCli {
  private static final String DEFAULT_URL = "ws://127.0.0.1:8080/v1/ws";

  private ChatCli() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: chat USER [ws://host:port/v1/ws]");
      System.exit(2);
    }
    String user = args[0];
    String url = args.length > 1 ? args[1] : System.getenv().getOrDefault("ROUTER_WS_URL", DEFAULT_URL);
    CompletableFuture<Void> closed = new CompletableFuture<>();
    WebSocket ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .header("Authorization", "Bearer " + DevTokens.mint(user))
            .buildAsync(URI.create(url), printer(closed))
            .join();
    AtomicLong ids = new AtomicLong();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while (!closed.isDone() && (line = in.readLine()) != null) {
      String frame = toFrame(line.trim(), user + "-" + System.currentTimeMillis() + "-" + ids.incrementAndGet());
      if (frame != null) {
        ws.sendText(frame, true).join();
      }
    }
    if (!closed.isDone()) {
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").join();
    }
  }

  static String toFrame(String line, String id) {
    if (line.isEmpty()) {
      return null;
    }
    if (line.startsWith("{")) {
      return line;
    }
    String[] w = line.split("\\s+");
    if (line.startsWith("@") || line.startsWith("#")) {
      String to = (line.startsWith("@") ? "user:" : "group:") + w[0].substring(1);
      String text = line.substring(w[0].length()).trim();
      return "{\"send\":{\"clientMsgId\":\"" + id + "\",\"to\":\"" + to + "\",\"text\":" + quote(text) + "}}";
    }
    switch (w[0]) {
      case "/create":
        return "{\"createGroup\":{\"requestId\":\"" + id + "\",\"groupId\":\"" + w[1] + "\",\"title\":" + quote(w.length > 2 ? w[2] : w[1])
            + ",\"members\":" + list(w, 3) + "}}";
      case "/add":
        return "{\"addMembers\":{\"requestId\":\"" + id + "\",\"groupId\":\"" + w[1] + "\",\"members\":" + list(w, 2) + "}}";
      case "/remove":
        return "{\"removeMembers\":{\"requestId\":\"" + id + "\",\"groupId\":\"" + w[1] + "\",\"members\":" + list(w, 2) + "}}";
      case "/leave":
        return "{\"leaveGroup\":{\"requestId\":\"" + id + "\",\"groupId\":\"" + w[1] + "\"}}";
      case "/sync":
        return "{\"sync\":{\"stream\":\"" + w[1] + "\",\"afterSeq\":" + (w.length > 2 ? w[2] : "0") + ",\"limit\":100}}";
      case "/read":
        return "{\"read\":{\"stream\":\"" + w[1] + "\",\"seq\":" + w[2] + "}}";
      default:
        System.err.println("? " + line);
        return null;
    }
  }

  private static String list(String[] words, int from) {
    StringBuilder b = new StringBuilder("[");
    for (int i = from; i < words.length; i++) {
      b.append(i > from ? "," : "").append(quote(words[i]));
    }
    return b.append("]").toString();
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static WebSocket.Listener printer(CompletableFuture<Void> closed) {
    return new WebSocket.Listener() {
      private final StringBuilder part = new StringBuilder();

      @Override
      public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        part.append(data);
        if (last) {
          System.out.println(part);
          part.setLength(0);
        }
        ws.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
        System.err.println("closed " + code + " " + reason);
        closed.complete(null);
        return null;
      }

      @Override
      public void onError(WebSocket ws, Throwable error) {
        System.err.println("error " + error);
        closed.complete(null);
      }
    };
  }
}
