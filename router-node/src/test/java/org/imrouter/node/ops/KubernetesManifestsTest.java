package org.imrouter.node.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.Reader;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Lint of the Kubernetes manifests in {@code ops/k8s/}: every YAML document parses and is a
 * well-formed resource of a known kind and API version, and the resources agree with each other
 * and with what the router needs (selectors, ports, probes on the management routes, RBAC for the
 * Kubernetes API discovery, environment, drain time, resources). No cluster and no network: it
 * only reads the files.
 */
class KubernetesManifestsTest {
  /** the kinds these manifests may contain, and the API version each must use */
  private static final Map<String, String> API_VERSIONS =
      Map.of(
          "Deployment", "apps/v1",
          "Service", "v1",
          "ServiceAccount", "v1",
          "Role", "rbac.authorization.k8s.io/v1",
          "RoleBinding", "rbac.authorization.k8s.io/v1",
          "PodDisruptionBudget", "policy/v1",
          "Secret", "v1");

  private static final Pattern DNS_1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  /** IANA_SVC_NAME: what container and Service port names must be */
  private static final Pattern PORT_NAME = Pattern.compile("(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  /** the drain (stop accepting, close WebSockets, hand off shards, leave) needs this much */
  private static final int MIN_GRACE_SECONDS = 30;

  /** one parsed YAML document and where it came from */
  private record Doc(String file, int index, Map<String, Object> body) {
    String kind() {
      return String.valueOf(body.get("kind"));
    }

    String name() {
      return String.valueOf(map(body.get("metadata"), where() + ".metadata").get("name"));
    }

    String where() {
      return file + " (document " + (index + 1) + (body.get("kind") != null ? ", " + body.get("kind") : "") + ")";
    }
  }

  private static Path dir;
  private static final List<Doc> docs = new ArrayList<>();

  @BeforeAll
  static void load() throws IOException {
    // surefire runs in router-node/; from the repository root the directory is ops/k8s
    dir = Stream.of(Path.of("../ops/k8s"), Path.of("ops/k8s"))
        .filter(Files::isDirectory)
        .findFirst()
        .orElseThrow(() -> new AssertionError("ops/k8s not found from " + Path.of("").toAbsolutePath()));
    List<Path> files;
    try (Stream<Path> list = Files.list(dir)) {
      files = list.filter(p -> p.getFileName().toString().matches(".*\\.ya?ml")).sorted().toList();
    }
    assertFalse(files.isEmpty(), "no *.yaml in " + dir.toAbsolutePath());
    for (Path file : files) {
      Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
      int index = 0;
      try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        for (Object doc : yaml.loadAll(reader)) {
          String where = file.getFileName() + " (document " + (index + 1) + ")";
          if (doc == null) { // an empty document, e.g. a trailing "---"
            index++;
            continue;
          }
          docs.add(new Doc(file.getFileName().toString(), index++, map(doc, where)));
        }
      } catch (RuntimeException e) {
        throw new AssertionError(file.getFileName() + " is not valid YAML: " + e.getMessage(), e);
      }
    }
  }

  @Test
  void theExpectedFilesArePresent() {
    for (String name : List.of("deployment.yaml", "service.yaml", "rbac.yaml", "pdb.yaml", "secret.example.yaml", "README.md")) {
      assertTrue(Files.isRegularFile(dir.resolve(name)), "ops/k8s/" + name + " is missing");
    }
  }

  @Test
  void everyDocumentIsAResourceOfAKnownKindAndVersion() {
    Set<String> seen = new HashSet<>();
    for (Doc doc : docs) {
      Object apiVersion = doc.body().get("apiVersion");
      Object kind = doc.body().get("kind");
      assertNotNull(apiVersion, doc.where() + ": no apiVersion");
      assertNotNull(kind, doc.where() + ": no kind");
      assertTrue(API_VERSIONS.containsKey(kind.toString()),
          doc.where() + ": unexpected kind " + kind + " (expected one of " + API_VERSIONS.keySet() + ")");
      assertEquals(API_VERSIONS.get(kind.toString()), apiVersion,
          doc.where() + ": kind " + kind + " must use apiVersion " + API_VERSIONS.get(kind.toString()));
      Map<String, Object> metadata = map(doc.body().get("metadata"), doc.where() + ": metadata");
      Object name = metadata.get("name");
      assertTrue(name instanceof String s && !s.isBlank(), doc.where() + ": metadata.name is missing");
      assertTrue(DNS_1123_SUBDOMAIN.matcher((String) name).matches() && ((String) name).length() <= 253,
          doc.where() + ": metadata.name '" + name + "' is not a valid Kubernetes name");
      assertFalse(metadata.containsKey("namespace"),
          doc.where() + ": manifests are namespace-less (kubectl -n chooses it); remove metadata.namespace");
      assertTrue(seen.add(kind + "/" + name), doc.where() + ": a second " + kind + " named " + name);
      stringValues(metadata.get("labels"), doc.where() + ": metadata.labels");
      stringValues(metadata.get("annotations"), doc.where() + ": metadata.annotations");
    }
    for (String kind : API_VERSIONS.keySet()) {
      assertFalse(ofKind(kind).isEmpty(), "no " + kind + " in ops/k8s/*.yaml");
    }
  }

  @Test
  void deploymentSelectorMatchesItsPodLabels() {
    Doc deployment = deployment();
    Map<String, Object> spec = map(deployment.body().get("spec"), deployment.where() + ": spec");
    Map<String, String> selector = matchLabels(spec.get("selector"), deployment.where() + ": spec.selector");
    Map<String, String> labels = podLabels();
    assertSubset(selector, labels, deployment.where() + ": spec.selector.matchLabels must match spec.template.metadata.labels");
    assertEquals("im-router", labels.get("app"),
        deployment.where() + ": pods must carry label app: im-router (the bootstrap's pod-label-selector is app=%s)");
    assertEquals(labels.get("app"), env().get("ROUTER_BOOTSTRAP_SERVICE_NAME").get("value"),
        deployment.where() + ": ROUTER_BOOTSTRAP_SERVICE_NAME must equal the pods' app label (bootstrap selects app=<it>)");
    Object replicas = spec.get("replicas");
    assertTrue(replicas instanceof Integer r && r >= 3, deployment.where() + ": spec.replicas must be at least 3, was " + replicas);
    Object required = env().get("ROUTER_REQUIRED_CONTACT_POINTS").get("value");
    assertTrue(Integer.parseInt(String.valueOf(required)) <= (Integer) replicas,
        deployment.where() + ": ROUTER_REQUIRED_CONTACT_POINTS " + required + " exceeds replicas " + replicas
            + " (the cluster would never form)");
  }

  @Test
  void servicesAndPdbSelectThePods() {
    Map<String, String> labels = podLabels();
    for (Doc service : ofKind("Service")) {
      Map<String, Object> spec = map(service.body().get("spec"), service.where() + ": spec");
      Map<String, String> selector = stringValues(spec.get("selector"), service.where() + ": spec.selector");
      assertFalse(selector.isEmpty(), service.where() + ": spec.selector is empty");
      assertSubset(selector, labels, service.where() + ": spec.selector must match the Deployment's pod labels");
    }
    for (Doc pdb : ofKind("PodDisruptionBudget")) {
      Map<String, Object> spec = map(pdb.body().get("spec"), pdb.where() + ": spec");
      Map<String, String> selector = matchLabels(spec.get("selector"), pdb.where() + ": spec.selector");
      assertFalse(selector.isEmpty(), pdb.where() + ": spec.selector.matchLabels is empty");
      assertSubset(selector, labels, pdb.where() + ": spec.selector must match the Deployment's pod labels");
      assertEquals(1, spec.get("maxUnavailable"), pdb.where() + ": spec.maxUnavailable must be 1");
      assertFalse(spec.containsKey("minAvailable"), pdb.where() + ": set maxUnavailable or minAvailable, not both");
    }
  }

  @Test
  void containerExposesTheRouterPorts() {
    Map<String, Integer> ports = containerPorts();
    assertEquals(8558, ports.get("management"),
        deployment().where() + ": container port 8558 must be named \"management\" (Cluster Bootstrap looks it up by name); ports: " + ports);
    assertEquals(8080, ports.get("http"), deployment().where() + ": container port http 8080 (WebSocket) missing; ports: " + ports);
    assertEquals(8081, ports.get("grpc"), deployment().where() + ": container port grpc 8081 (gRPC ingress) missing; ports: " + ports);
    assertTrue(ports.containsValue(25520), deployment().where() + ": container port 25520 (Artery remoting) missing; ports: " + ports);
    assertTrue(ports.containsValue(9095), deployment().where() + ": container port 9095 (metrics) missing; ports: " + ports);
    // the ports the node is told to listen on are the ports declared
    Map<String, Map<String, Object>> env = env();
    Map<String, String> envPorts = Map.of(
        "ROUTER_HTTP_PORT", "http", "ROUTER_GRPC_PORT", "grpc", "ROUTER_MANAGEMENT_PORT", "management");
    envPorts.forEach((variable, portName) -> {
      if (env.containsKey(variable)) {
        assertEquals(String.valueOf(ports.get(portName)), String.valueOf(env.get(variable).get("value")),
            deployment().where() + ": " + variable + " disagrees with container port " + portName);
      }
    });
    Map<String, String> annotations = stringValues(
        map(template().get("metadata"), deployment().where() + ": spec.template.metadata").get("annotations"),
        deployment().where() + ": spec.template.metadata.annotations");
    if ("true".equals(annotations.get("prometheus.io/scrape"))) {
      assertTrue(ports.containsValue(Integer.parseInt(annotations.getOrDefault("prometheus.io/port", "-1"))),
          deployment().where() + ": prometheus.io/port " + annotations.get("prometheus.io/port") + " is not a container port");
    }
  }

  @Test
  void probesUseTheManagementRoutes() {
    Map<String, Object> container = container();
    String where = deployment().where() + ": container " + container.get("name");
    Map<String, Object> readiness = httpGet(container, "readinessProbe", where);
    assertEquals("/ready", readiness.get("path"), where + ": readinessProbe must GET /ready");
    assertTrue(isManagementPort(readiness.get("port")), where + ": readinessProbe must use port management (8558), was " + readiness.get("port"));
    Map<String, Object> liveness = httpGet(container, "livenessProbe", where);
    assertEquals("/alive", liveness.get("path"), where + ": livenessProbe must GET /alive");
    assertTrue(isManagementPort(liveness.get("port")), where + ": livenessProbe must use port management (8558), was " + liveness.get("port"));
    if (container.containsKey("startupProbe")) {
      Map<String, Object> startup = httpGet(container, "startupProbe", where);
      assertTrue(isManagementPort(startup.get("port")), where + ": startupProbe must use port management (8558)");
    }
  }

  @Test
  void rbacLetsTheDeploymentsServiceAccountListPods() {
    Doc deployment = deployment();
    Object serviceAccount = map(template().get("spec"), "template.spec").get("serviceAccountName");
    assertTrue(serviceAccount instanceof String s && !s.isBlank(),
        deployment.where() + ": spec.template.spec.serviceAccountName must be set (the discovery needs RBAC)");
    assertNotEquals(Boolean.FALSE, map(template().get("spec"), "template.spec").get("automountServiceAccountToken"),
        deployment.where() + ": the service account token must be mounted (the discovery reads it)");
    assertTrue(ofKind("ServiceAccount").stream().anyMatch(d -> d.name().equals(serviceAccount)),
        "no ServiceAccount named " + serviceAccount + " (the Deployment's serviceAccountName)");

    Set<String> podReaders = new HashSet<>();
    for (Doc role : ofKind("Role")) {
      for (Object rule : list(role.body().get("rules"), role.where() + ": rules")) {
        Map<String, Object> r = map(rule, role.where() + ": rule");
        if (strings(r.get("apiGroups")).contains("") && strings(r.get("resources")).contains("pods")
            && strings(r.get("verbs")).containsAll(List.of("get", "watch", "list"))) {
          podReaders.add(role.name());
        }
      }
    }
    assertFalse(podReaders.isEmpty(), "no Role allows get, watch and list on pods (core API group \"\")");

    boolean bound = false;
    for (Doc binding : ofKind("RoleBinding")) {
      Map<String, Object> roleRef = map(binding.body().get("roleRef"), binding.where() + ": roleRef");
      assertEquals("rbac.authorization.k8s.io", roleRef.get("apiGroup"), binding.where() + ": roleRef.apiGroup");
      if (!"Role".equals(roleRef.get("kind")) || !podReaders.contains(roleRef.get("name"))) {
        continue;
      }
      for (Object subject : list(binding.body().get("subjects"), binding.where() + ": subjects")) {
        Map<String, Object> s = map(subject, binding.where() + ": subject");
        if ("ServiceAccount".equals(s.get("kind")) && serviceAccount.equals(s.get("name"))) {
          bound = true;
        }
      }
    }
    assertTrue(bound, "no RoleBinding binds a pod-reading Role " + podReaders + " to ServiceAccount " + serviceAccount);
  }

  @Test
  void environmentConfiguresTheNodeForKubernetes() {
    Map<String, Map<String, Object>> env = env();
    String where = deployment().where() + ": env ";
    assertEquals("0.0.0.0", value(env, "ROUTER_BIND_HOST"), where + "ROUTER_BIND_HOST must be 0.0.0.0");
    assertEquals("status.podIP", fieldRef(env, "ROUTER_CLUSTER_HOST"),
        where + "ROUTER_CLUSTER_HOST must come from the downward API fieldRef status.podIP");
    Object contactPoints = value(env, "ROUTER_CASSANDRA_CONTACT_POINTS");
    assertTrue(contactPoints instanceof String s && !s.isBlank(),
        where + "ROUTER_CASSANDRA_CONTACT_POINTS must be set (else the pod starts an embedded Cassandra)");
    assertEquals("kubernetes-api", value(env, "ROUTER_DISCOVERY_METHOD"), where + "ROUTER_DISCOVERY_METHOD must be kubernetes-api");
    assertEquals("bootstrap", value(env, "ROUTER_CLUSTER_JOIN"), where + "ROUTER_CLUSTER_JOIN must be bootstrap (router.cluster.join)");
    assertEquals("false", value(env, "ROUTER_CASSANDRA_AUTOCREATE"),
        where + "ROUTER_CASSANDRA_AUTOCREATE must be \"false\" (the schema comes from ops/cassandra/schema.cql)");
    for (String secret : List.of("ROUTER_JWT_SECRET", "ROUTER_BACKEND_TOKEN")) {
      Map<String, Object> ref = secretKeyRef(env, secret);
      assertTrue(ref.get("name") instanceof String && ref.get("key") instanceof String,
          where + secret + ": secretKeyRef needs name and key");
    }
    for (Map.Entry<String, Map<String, Object>> e : env.entrySet()) {
      Map<String, Object> var = e.getValue();
      assertTrue(var.containsKey("value") ^ var.containsKey("valueFrom"),
          where + e.getKey() + ": exactly one of value and valueFrom");
      if (var.containsKey("value")) {
        assertTrue(var.get("value") instanceof String,
            where + e.getKey() + ": value must be a YAML string (quote it), was " + var.get("value"));
      }
    }
  }

  @Test
  void secretExampleHasTheKeysTheDeploymentReads() {
    List<Doc> secrets = ofKind("Secret");
    Set<String> exampleKeys = new HashSet<>();
    for (Doc secret : secrets) {
      assertTrue(secret.file().contains("example"),
          secret.where() + ": only an example Secret belongs in the repository (real values never do)");
      exampleKeys.addAll(stringValues(secret.body().get("stringData"), secret.where() + ": stringData").keySet());
      exampleKeys.addAll(stringValues(secret.body().get("data"), secret.where() + ": data").keySet());
    }
    Map<String, Map<String, Object>> env = env();
    for (Map.Entry<String, Map<String, Object>> e : env.entrySet()) {
      Object valueFrom = e.getValue().get("valueFrom");
      if (valueFrom instanceof Map<?, ?> from && from.get("secretKeyRef") instanceof Map<?, ?> ref) {
        assertTrue(exampleKeys.contains(String.valueOf(ref.get("key"))),
            deployment().where() + ": env " + e.getKey() + " reads key " + ref.get("key")
                + " that secret.example.yaml does not show (keys: " + exampleKeys + ")");
      }
    }
  }

  @Test
  void drainHasTimeAndTheContainerHasResourcesAndNoRoot() {
    Map<String, Object> podSpec = map(template().get("spec"), "template.spec");
    String where = deployment().where() + ": ";
    Object grace = podSpec.get("terminationGracePeriodSeconds");
    assertTrue(grace instanceof Integer g && g >= MIN_GRACE_SECONDS,
        where + "terminationGracePeriodSeconds must be >= " + MIN_GRACE_SECONDS + " for the drain, was " + grace);

    Map<String, Object> container = container();
    Map<String, Object> resources = map(container.get("resources"), where + "container resources");
    Map<String, String> requests = quantities(resources.get("requests"), where + "resources.requests");
    Map<String, String> limits = quantities(resources.get("limits"), where + "resources.limits");
    for (String resource : List.of("cpu", "memory")) {
      assertTrue(requests.containsKey(resource), where + "resources.requests." + resource + " missing");
      assertTrue(limits.containsKey(resource), where + "resources.limits." + resource + " missing");
      assertTrue(quantity(requests.get(resource)).compareTo(quantity(limits.get(resource))) <= 0,
          where + "resources.requests." + resource + " " + requests.get(resource) + " exceeds the limit " + limits.get(resource));
    }

    Map<String, Object> podSecurity = map(podSpec.getOrDefault("securityContext", Map.of()), "securityContext");
    Map<String, Object> containerSecurity = map(container.getOrDefault("securityContext", Map.of()), "securityContext");
    assertTrue(Boolean.TRUE.equals(podSecurity.get("runAsNonRoot")) || Boolean.TRUE.equals(containerSecurity.get("runAsNonRoot")),
        where + "securityContext.runAsNonRoot must be true");
    assertNotEquals(Boolean.TRUE, containerSecurity.get("allowPrivilegeEscalation"), where + "allowPrivilegeEscalation must not be true");
  }

  @Test
  void everyPortAServiceTargetsExistsInTheContainer() {
    Map<String, Integer> ports = containerPorts();
    Set<Integer> servicePorts = new HashSet<>();
    for (Doc service : ofKind("Service")) {
      Map<String, Object> spec = map(service.body().get("spec"), service.where() + ": spec");
      for (Object p : list(spec.get("ports"), service.where() + ": spec.ports")) {
        Map<String, Object> port = map(p, service.where() + ": port");
        assertTrue(port.get("port") instanceof Integer, service.where() + ": every port needs a numeric port");
        if (list(spec.get("ports"), "").size() > 1) {
          assertTrue(port.get("name") instanceof String n && PORT_NAME.matcher(n).matches() && n.length() <= 15,
              service.where() + ": port " + port.get("port") + " needs a valid name (several ports)");
        }
        Object target = port.getOrDefault("targetPort", port.get("port"));
        boolean exists = target instanceof Integer n ? ports.containsValue(n) : ports.containsKey(String.valueOf(target));
        assertTrue(exists, service.where() + ": targetPort " + target + " is not a container port of the Deployment " + ports);
        servicePorts.add(target instanceof Integer n ? n : ports.get(String.valueOf(target)));
      }
    }
    assertTrue(servicePorts.containsAll(List.of(8080, 8081)),
        "the Services must expose the WebSocket (8080) and gRPC (8081) container ports, exposed: " + servicePorts);
  }

  // --- navigation helpers ---

  private static List<Doc> ofKind(String kind) {
    return docs.stream().filter(d -> kind.equals(d.kind())).toList();
  }

  private static Doc deployment() {
    List<Doc> deployments = ofKind("Deployment");
    assertEquals(1, deployments.size(), "expected exactly one Deployment in ops/k8s, found " + deployments.size());
    return deployments.get(0);
  }

  private static Map<String, Object> template() {
    Doc d = deployment();
    return map(map(d.body().get("spec"), d.where() + ": spec").get("template"), d.where() + ": spec.template");
  }

  private static Map<String, String> podLabels() {
    Map<String, String> labels = stringValues(
        map(template().get("metadata"), deployment().where() + ": spec.template.metadata").get("labels"),
        deployment().where() + ": spec.template.metadata.labels");
    assertFalse(labels.isEmpty(), deployment().where() + ": spec.template.metadata.labels is empty");
    return labels;
  }

  /** the router container: the one named "router", else the only one */
  private static Map<String, Object> container() {
    String where = deployment().where() + ": spec.template.spec.containers";
    List<Object> containers = list(map(template().get("spec"), "template.spec").get("containers"), where);
    assertFalse(containers.isEmpty(), where + " is empty");
    for (Object c : containers) {
      if ("router".equals(map(c, where).get("name"))) {
        return map(c, where);
      }
    }
    assertEquals(1, containers.size(), where + ": several containers and none named router");
    return map(containers.get(0), where);
  }

  /** container port name → number (unnamed ports under their number) */
  private static Map<String, Integer> containerPorts() {
    String where = deployment().where() + ": container ports";
    Map<String, Integer> ports = new LinkedHashMap<>();
    for (Object p : list(container().get("ports"), where)) {
      Map<String, Object> port = map(p, where);
      Object number = port.get("containerPort");
      assertTrue(number instanceof Integer n && n > 0 && n < 65536, where + ": bad containerPort " + number);
      Object name = port.get("name");
      if (name != null) {
        assertTrue(name instanceof String n && PORT_NAME.matcher(n).matches() && n.length() <= 15,
            where + ": port name '" + name + "' is not a valid port name (lowercase, <= 15 characters)");
      }
      String key = name != null ? (String) name : String.valueOf(number);
      assertTrue(ports.put(key, (Integer) number) == null, where + ": port " + key + " declared twice");
    }
    return ports;
  }

  /** env name → its entry; duplicates fail */
  private static Map<String, Map<String, Object>> env() {
    String where = deployment().where() + ": container env";
    Map<String, Map<String, Object>> env = new LinkedHashMap<>();
    for (Object e : list(container().get("env"), where)) {
      Map<String, Object> var = map(e, where);
      String name = String.valueOf(var.get("name"));
      assertTrue(env.put(name, var) == null, where + ": " + name + " set twice");
    }
    for (String required : List.of("ROUTER_BIND_HOST", "ROUTER_CLUSTER_HOST", "ROUTER_CASSANDRA_CONTACT_POINTS",
        "ROUTER_JWT_SECRET", "ROUTER_BACKEND_TOKEN", "ROUTER_DISCOVERY_METHOD", "ROUTER_BOOTSTRAP_SERVICE_NAME",
        "ROUTER_REQUIRED_CONTACT_POINTS", "ROUTER_CASSANDRA_AUTOCREATE")) {
      assertTrue(env.containsKey(required), where + ": " + required + " is missing");
    }
    return env;
  }

  private static Object value(Map<String, Map<String, Object>> env, String name) {
    return env.get(name).get("value");
  }

  private static Object fieldRef(Map<String, Map<String, Object>> env, String name) {
    String where = deployment().where() + ": env " + name;
    Map<String, Object> from = map(env.get(name).get("valueFrom"), where + ".valueFrom");
    return map(from.get("fieldRef"), where + ".valueFrom.fieldRef").get("fieldPath");
  }

  private static Map<String, Object> secretKeyRef(Map<String, Map<String, Object>> env, String name) {
    String where = deployment().where() + ": env " + name + " must come from a Secret";
    Map<String, Object> from = map(env.get(name).get("valueFrom"), where + " (valueFrom)");
    return map(from.get("secretKeyRef"), where + " (valueFrom.secretKeyRef)");
  }

  private static Map<String, Object> httpGet(Map<String, Object> container, String probe, String where) {
    Map<String, Object> p = map(container.get(probe), where + ": " + probe);
    return map(p.get("httpGet"), where + ": " + probe + ".httpGet");
  }

  private static boolean isManagementPort(Object port) {
    return "management".equals(port) || Integer.valueOf(8558).equals(port);
  }

  private static Map<String, String> matchLabels(Object selector, String where) {
    Map<String, Object> s = map(selector, where);
    assertFalse(s.containsKey("matchExpressions"), where + ": use matchLabels only (this lint compares labels)");
    return stringValues(s.get("matchLabels"), where + ".matchLabels");
  }

  private static void assertSubset(Map<String, String> selector, Map<String, String> labels, String message) {
    selector.forEach((k, v) -> assertEquals(v, labels.get(k), message + " (selector " + selector + ", labels " + labels + ")"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o, String where) {
    if (!(o instanceof Map)) {
      fail(where + ": expected a mapping, found " + (o == null ? "nothing" : o.getClass().getSimpleName() + " " + o));
    }
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object o, String where) {
    if (!(o instanceof List)) {
      fail(where + ": expected a list, found " + (o == null ? "nothing" : o.getClass().getSimpleName() + " " + o));
    }
    return (List<Object>) o;
  }

  private static List<String> strings(Object o) {
    return o instanceof List<?> l ? l.stream().map(String::valueOf).toList() : List.of();
  }

  /** a map whose values must all be YAML strings (labels, annotations, selectors, secret data); absent = empty */
  private static Map<String, String> stringValues(Object o, String where) {
    if (o == null) {
      return Map.of();
    }
    Map<String, String> result = new LinkedHashMap<>();
    map(o, where).forEach((k, v) -> {
      assertTrue(v instanceof String, where + "." + k + " must be a string (quote it), was " + v);
      result.put(k, (String) v);
    });
    return result;
  }

  /** resource name → quantity (Kubernetes takes "1", 1 or "500m"); absent = empty */
  private static Map<String, String> quantities(Object o, String where) {
    if (o == null) {
      return Map.of();
    }
    Map<String, String> result = new LinkedHashMap<>();
    map(o, where).forEach((k, v) -> {
      assertTrue(v instanceof String || v instanceof Number, where + "." + k + ": not a quantity: " + v);
      result.put(k, String.valueOf(v));
    });
    return result;
  }

  /** a Kubernetes quantity ("1", "1800m", "1536Mi", "2Gi", "500M") as a number */
  private static BigDecimal quantity(String q) {
    Map<String, BigDecimal> suffixes = new LinkedHashMap<>();
    suffixes.put("Ki", BigDecimal.valueOf(1L << 10));
    suffixes.put("Mi", BigDecimal.valueOf(1L << 20));
    suffixes.put("Gi", BigDecimal.valueOf(1L << 30));
    suffixes.put("Ti", BigDecimal.valueOf(1L << 40));
    suffixes.put("m", new BigDecimal("0.001"));
    suffixes.put("k", BigDecimal.valueOf(1_000L));
    suffixes.put("M", BigDecimal.valueOf(1_000_000L));
    suffixes.put("G", BigDecimal.valueOf(1_000_000_000L));
    suffixes.put("T", BigDecimal.valueOf(1_000_000_000_000L));
    for (Map.Entry<String, BigDecimal> s : suffixes.entrySet()) {
      if (q.endsWith(s.getKey())) {
        return parse(q.substring(0, q.length() - s.getKey().length()), q).multiply(s.getValue());
      }
    }
    return parse(q, q);
  }

  private static BigDecimal parse(String number, String quantity) {
    try {
      return new BigDecimal(number);
    } catch (NumberFormatException e) {
      throw new AssertionError("'" + quantity + "' is not a Kubernetes quantity", e);
    }
  }
}
