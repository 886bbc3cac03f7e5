package org.imrouter.node.config;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.imrouter.persistence.embedded.CommitLogSync;

/**
 * Every {@code router.*} setting, read once at start so that a typo fails the start instead of
 * a request. Defaults and meaning of each key are in the top-level application.conf.
 */
public record RouterSettings(
    Http http,
    Jwt jwt,
    Limits limits,
    EntitySettings entity,
    Session session,
    String readJournal,
    Cassandra cassandra,
    Grpc grpc,
    String clusterJoin) {

  /**
   * The WebSocket server: its connection cap, timeouts and keep-alive, the deadline and cap of
   * connections not yet upgraded, the window of the delay suggested to clients sent away, and the
   * rate at which new sessions are admitted (see application.conf).
   */
  public record Http(
      String host,
      int port,
      int maxConnections,
      int backlog,
      Duration idleTimeout,
      Duration keepAliveInterval,
      Duration deadPeerTimeout,
      Duration preAuthTimeout,
      int preAuthConnections,
      Duration reconnectBackoffMin,
      Duration reconnectBackoffMax,
      Rate sessionAdmission) {
    public Http {
      if (keepAliveInterval.compareTo(idleTimeout) >= 0 || keepAliveInterval.compareTo(deadPeerTimeout) >= 0) {
        throw new IllegalArgumentException(
            "router.http.keep-alive-interval must be shorter than idle-timeout and dead-peer-timeout,"
                + " or healthy idle connections would be closed");
      }
      if (preAuthConnections < 1 || preAuthConnections >= maxConnections) {
        throw new IllegalArgumentException(
            "router.http.pre-auth-connections must be at least 1 and below max-connections,"
                + " or connections that never authenticate could take every slot");
      }
      if (preAuthTimeout.isZero() || preAuthTimeout.isNegative()) {
        throw new IllegalArgumentException("router.http.pre-auth-timeout must be positive");
      }
      if (reconnectBackoffMin.isNegative() || reconnectBackoffMax.compareTo(reconnectBackoffMin) <= 0) {
        throw new IllegalArgumentException(
            "router.http.reconnect-backoff-max must be above reconnect-backoff-min (at least 0),"
                + " or every client sent away would come back at the same instant");
      }
    }
  }

  /**
   * algorithm is HS256 (secret) or RS256 (publicKeyPem); issuer and audience, when not empty, must
   * be the token's "iss" and one of its "aud".
   */
  public record Jwt(
      String algorithm, String secret, String publicKeyPem, Duration leeway, boolean devSecret, String issuer, String audience) {}

  /** A token bucket's rate: tokens per second, and how many may be saved up. */
  public record Rate(int perSecond, int burst) {
    public Rate {
      if (perSecond < 1 || burst < 1) {
        throw new IllegalArgumentException("a rate needs at least 1 per second and a burst of at least 1");
      }
    }
  }

  public record Limits(
      int maxFrameBytes,
      int maxTextBytes,
      int maxPayloadBytes,
      int maxContentTypeBytes,
      int maxTitleBytes,
      Map<LimitedFrame, Rate> perUser,
      int connectionsPerUser,
      int groupSize,
      int syncMaxLimit,
      int outboundBuffer,
      long outboundBufferBytes,
      int syncMaxBytes,
      Duration messageReadTimeout,
      Duration typingWindow) {}

  public record EntitySettings(
      int recentItems,
      int dedupPerSender,
      int dedupEntries,
      Duration dedupWindow,
      int snapshotEvery,
      int keepSnapshots,
      Duration transferRetry,
      Duration passivateIdle,
      int maxBatch,
      long maxBatchBytes,
      int maxPending,
      long maxPendingBytes,
      boolean historyBeforeJoin) {}

  public record Session(
      Duration askTimeout, Duration resendAfter, Duration resendWindow, Duration reregisterDelay, Duration drainTimeout, int maxUnansweredSends) {}

  /** One backend allowed to call the ingress, and the patterns that bound what it may do. */
  public record Backend(String name, String tokenSha256, List<String> mayActAs, List<String> mayRead, List<String> mayManage) {}

  public record Grpc(
      String host,
      int port,
      String defaultToken,
      boolean devToken,
      List<Backend> backends,
      boolean jwtBackends,
      int publishesPerSecond,
      int publishBurst,
      int callsPerSecond,
      int callBurst,
      int maxBatch,
      int subscribeBuffer,
      int pageSize) {}

  /** contactPoints empty: start the embedded server with the embedded settings. */
  public record Cassandra(
      String contactPoints,
      String dataDir,
      int port,
      int storagePort,
      int heapMb,
      Duration startTimeout,
      CommitLogSync commitLogSync) {}

  private static Map<LimitedFrame, Rate> perUserRates(Config limits) {
    Map<LimitedFrame, Rate> rates = new EnumMap<>(LimitedFrame.class);
    rates.put(LimitedFrame.SEND, new Rate(limits.getInt("sends-per-second"), limits.getInt("send-burst")));
    rates.put(LimitedFrame.SYNC, new Rate(limits.getInt("syncs-per-second"), limits.getInt("sync-burst")));
    rates.put(LimitedFrame.READ, new Rate(limits.getInt("reads-per-second"), limits.getInt("read-burst")));
    rates.put(LimitedFrame.TYPING, new Rate(limits.getInt("typing-per-second"), limits.getInt("typing-burst")));
    rates.put(LimitedFrame.GROUP_OP, new Rate(limits.getInt("group-ops-per-second"), limits.getInt("group-op-burst")));
    rates.put(LimitedFrame.REFRESH, new Rate(limits.getInt("refreshes-per-second"), limits.getInt("refresh-burst")));
    return rates;
  }

  public static RouterSettings fromConfig(Config root) {
    Config c = root.getConfig("router");
    Config jwt = c.getConfig("jwt");
    Config limits = c.getConfig("limits");
    Config entity = c.getConfig("entity");
    Config session = c.getConfig("session");
    return new RouterSettings(
        new Http(
            c.getString("http.host"),
            c.getInt("http.port"),
            c.getInt("http.max-connections"),
            c.getInt("http.backlog"),
            c.getDuration("http.idle-timeout"),
            c.getDuration("http.keep-alive-interval"),
            c.getDuration("http.dead-peer-timeout"),
            c.getDuration("http.pre-auth-timeout"),
            c.getInt("http.pre-auth-connections"),
            c.getDuration("http.reconnect-backoff-min"),
            c.getDuration("http.reconnect-backoff-max"),
            new Rate(c.getInt("http.session-admissions-per-second"), c.getInt("http.session-admission-burst"))),
        new Jwt(
            jwt.getString("algorithm"),
            jwt.getString("secret"),
            jwt.getString("public-key-pem"),
            jwt.getDuration("leeway"),
            jwt.getString("secret").equals(jwt.getString("dev-secret")),
            jwt.getString("issuer"),
            jwt.getString("audience")),
        new Limits(
            bytes(limits, "max-frame-bytes"),
            bytes(limits, "max-text-bytes"),
            bytes(limits, "max-payload-bytes"),
            bytes(limits, "max-content-type-bytes"),
            bytes(limits, "max-title-bytes"),
            perUserRates(limits),
            limits.getInt("connections-per-user"),
            limits.getInt("group-size"),
            limits.getInt("sync-max-limit"),
            limits.getInt("outbound-buffer"),
            limits.getBytes("outbound-buffer-bytes"),
            bytes(limits, "sync-max-bytes"),
            limits.getDuration("message-read-timeout"),
            limits.getDuration("typing-window")),
        new EntitySettings(
            entity.getInt("recent-items"),
            entity.getInt("dedup-per-sender"),
            entity.getInt("dedup-entries"),
            entity.getDuration("dedup-window"),
            entity.getInt("snapshot-every"),
            entity.getInt("keep-snapshots"),
            entity.getDuration("transfer-retry"),
            entity.getDuration("passivate-idle"),
            entity.getInt("max-batch"),
            entity.getBytes("max-batch-bytes"),
            entity.getInt("max-pending"),
            entity.getBytes("max-pending-bytes"),
            entity.getBoolean("history-before-join")),
        new Session(
            session.getDuration("ask-timeout"),
            session.getDuration("resend-after"),
            session.getDuration("resend-window"),
            session.getDuration("reregister-delay"),
            session.getDuration("drain-timeout"),
            session.getInt("max-unanswered-sends")),
        c.getString("history.read-journal"),
        new Cassandra(
            c.getString("cassandra.contact-points").trim(),
            c.getString("cassandra.embedded.data-dir"),
            c.getInt("cassandra.embedded.port"),
            c.getInt("cassandra.embedded.storage-port"),
            Math.toIntExact(c.getBytes("cassandra.embedded.heap") / BYTES_PER_MIB),
            c.getDuration("cassandra.embedded.start-timeout"),
            CommitLogSync.of(
                c.getString("cassandra.embedded.commitlog-sync"),
                c.getDuration("cassandra.embedded.commitlog-group-window"),
                c.getDuration("cassandra.embedded.commitlog-sync-period"))),
        grpc(c.getConfig("grpc")),
        c.getString("cluster.join"));
  }

  private static Grpc grpc(Config g) {
    List<Backend> backends = new ArrayList<>();
    for (Config b : g.getConfigList("backends")) {
      backends.add(
          new Backend(
              b.getString("name"),
              b.getString("token-sha256"),
              b.getStringList("may-act-as"),
              b.getStringList("may-read"),
              b.hasPath("may-manage") ? b.getStringList("may-manage") : List.of()));
    }
    return new Grpc(
        g.getString("host"),
        g.getInt("port"),
        g.getString("default-token"),
        g.getString("default-token").equals(g.getString("dev-token")),
        List.copyOf(backends),
        g.getBoolean("jwt-backends"),
        g.getInt("publishes-per-second"),
        g.getInt("publish-burst"),
        g.getInt("calls-per-second"),
        g.getInt("call-burst"),
        g.getInt("max-batch"),
        g.getInt("subscribe-buffer"),
        g.getInt("page-size"));
  }

  private static final long BYTES_PER_MIB = 1024 * 1024;

  private static int bytes(Config c, String key) {
    return Math.toIntExact(c.getBytes(key));
  }
}
