package dev.silobridge.example;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPrivateKeySpec;
import java.security.spec.ECPublicKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SiloBridge department connector written with plain kafka-clients, Jackson and the JDK: nothing from
 * SiloBridge but its wire protocol (docs/protocol.md). It answers one certificate type for one department
 * from a JSON seed file; a real connector replaces {@link #findRecords} with a query of its own registry.
 *
 * <p>Configuration (environment): KAFKA_BROKERS, DEPARTMENT, SYSTEM_ID (the department's connector system,
 * {@code <department>/<system>}), SIGNING_KEY_FILE (the private ES256 JWK registered for that system),
 * SEED_FILE; optional SILOBRIDGE_TOPIC_PREFIX (silobridge), INSTANCE_ID (host-pid), CERTIFICATE_TYPE
 * (marriage-certificate), SCHEMA_VERSION (1), HEARTBEAT_INTERVAL_MS (5000).
 */
public final class PlainJavaConnector {
  private static final Logger LOG = LoggerFactory.getLogger(PlainJavaConnector.class);
  /** Fails on `{} trailing garbage` too: a request is one JSON object and nothing else. */
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  private static final String CONNECTOR_VERSION = "silobridge-java-example/0.1.0";
  // Header names are Spring Kafka's (protocol section 3). Header values are UTF-8 text.
  private static final String CORRELATION_HEADER = "kafka_correlationId";
  private static final String REPLY_TOPIC_HEADER = "kafka_replyTopic";
  private static final String DEAD_LETTER_REASON_HEADER = "silobridge_dead_letter_reason";
  private static final String DEAD_LETTER_SOURCE_HEADER = "silobridge_dead_letter_source";
  private static final byte[] APPLICATION_JSON = "application/json".getBytes(StandardCharsets.UTF_8);

  // ---- Configuration --------------------------------------------------------------------------------

  private final String prefix = env("SILOBRIDGE_TOPIC_PREFIX", "silobridge");
  private final String brokers = env("KAFKA_BROKERS", null);
  private final String department = env("DEPARTMENT", null);
  private final String systemId = env("SYSTEM_ID", null);
  private final String instanceId = env("INSTANCE_ID", defaultInstanceId());
  private final String certificateType = env("CERTIFICATE_TYPE", "marriage-certificate");
  private final int schemaVersion = positiveInt("SCHEMA_VERSION", "1");
  private final int heartbeatIntervalMs = positiveInt("HEARTBEAT_INTERVAL_MS", "5000");
  private final String requestTopic = prefix + ".lookup-requests." + department;
  private final String heartbeatTopic = prefix + ".heartbeats";
  private final String deadLetterTopic = prefix + ".dead-letters";

  private final Es256Signer signer;
  private final List<SeedEntry> registry;
  private final KafkaProducer<byte[], byte[]> producer;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor(task -> {
    Thread thread = new Thread(task, "heartbeats");
    thread.setDaemon(true);
    return thread;
  });
  private volatile boolean stopping = false;
  private boolean announced = false;
  private final CountDownLatch consumerClosed = new CountDownLatch(1);

  public static void main(String[] args) throws Exception {
    PlainJavaConnector connector;
    try {
      connector = new PlainJavaConnector();
    } catch (IllegalArgumentException | GeneralSecurityException e) {
      System.err.println("silobridge-java-connector: " + e.getMessage());
      System.exit(2); // a configuration mistake: restarting will not help
      return;
    }
    connector.run();
  }

  private PlainJavaConnector() throws GeneralSecurityException {
    for (String name : List.of("KAFKA_BROKERS", "DEPARTMENT", "SYSTEM_ID", "SIGNING_KEY_FILE", "SEED_FILE")) {
      if (env(name, null) == null) throw new IllegalArgumentException(name + " is not set (see README.md)");
    }
    if (!department.matches("[a-z][a-z0-9-]{1,62}")) {
      throw new IllegalArgumentException("DEPARTMENT must be a department code such as civil-affairs");
    }
    if (!systemId.matches("[a-z][a-z0-9-]{1,62}/[a-z][a-z0-9-]{1,62}") || !systemId.startsWith(department + "/")) {
      throw new IllegalArgumentException("SYSTEM_ID must be <department>/<system> of department " + department);
    }
    // No '/': the heartbeat key is <department>/<instanceId>.
    if (!instanceId.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
      throw new IllegalArgumentException("INSTANCE_ID may hold letters, digits, '.', '_' and '-' (128 at most)");
    }
    try {
      signer = Es256Signer.fromJwkFile(Path.of(env("SIGNING_KEY_FILE", null)), systemId);
    } catch (IOException e) {
      throw new IllegalArgumentException("SIGNING_KEY_FILE: cannot read the key: " + e.getMessage());
    }
    try {
      registry = SeedEntry.load(Path.of(env("SEED_FILE", null)));
    } catch (IOException e) {
      throw new IllegalArgumentException("SEED_FILE: cannot read the records: " + e.getMessage());
    }

    Properties producerConfig = new Properties();
    producerConfig.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    producerConfig.put(ProducerConfig.CLIENT_ID_CONFIG, department + "-" + instanceId);
    // Keys and values go out as bytes: the reply keeps the request's key byte for byte.
    producerConfig.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    producerConfig.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    // A send counts as done only once every in-sync replica has the record (protocol section 10): we
    // commit the request after that, so a reply is never lost to a broker failing over.
    producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
    // How long send() may block waiting for a topic's metadata. The default, 60 s, would stall every
    // request behind a reply topic that no longer exists (its gateway is gone); 5 s is as long as a
    // lookup waits anyway.
    producerConfig.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000);
    // Give up on a reply 10 s after send() (retries included), not the default 2 minutes: the gateway has
    // stopped waiting long before. delivery.timeout.ms must be >= linger.ms + request.timeout.ms.
    producerConfig.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000);
    producerConfig.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10000);
    // Send each reply at once: someone is waiting for it. (Kafka 4 waits 5 ms to batch by default.)
    producerConfig.put(ProducerConfig.LINGER_MS_CONFIG, 0);
    producer = new KafkaProducer<>(producerConfig);

    Properties consumerConfig = new Properties();
    consumerConfig.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    consumerConfig.put(ConsumerConfig.CLIENT_ID_CONFIG, department + "-" + instanceId);
    // One group per department, shared by all its instances: Kafka spreads the partitions over them.
    consumerConfig.put(ConsumerConfig.GROUP_ID_CONFIG, prefix + ".connector." + department);
    consumerConfig.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    consumerConfig.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    // We commit ourselves, after the reply is acknowledged: at-least-once replies.
    consumerConfig.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    // A new group starts from the oldest request, so none sent before the first instance joined is lost.
    consumerConfig.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // An idle connector sees a new request within 100 ms instead of the default 500 ms.
    consumerConfig.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
    consumer = new KafkaConsumer<>(consumerConfig);
  }

  // ---- The loop -------------------------------------------------------------------------------------

  private void run() {
    Runtime.getRuntime().addShutdownHook(new Thread(this::shutdown, "shutdown"));
    int exitCode = 0;
    try {
      consumer.subscribe(List.of(requestTopic), new ConsumerRebalanceListener() {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
          // Say `up` only once the group has taken us in: the gateway routes as soon as it sees it.
          if (announced || stopping) return;
          announced = true;
          // With a fixed delay, not rate: after a stall, no burst of heartbeats to catch up.
          heartbeats.scheduleWithFixedDelay(() -> heartbeat("up"), 0, heartbeatIntervalMs, TimeUnit.MILLISECONDS);
          LOG.info("{}/{} is answering {} lookups from {}", department, instanceId, certificateType, requestTopic);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}
      });
      while (!stopping) {
        for (ConsumerRecord<byte[], byte[]> request : consumer.poll(Duration.ofMillis(200))) {
          try {
            handle(request);
          } catch (ExecutionException | KafkaException e) {
            // The client retried until delivery.timeout.ms. The deadline has passed by now: give up and
            // commit, rather than block the partition (protocol section 10).
            LOG.warn("no reply sent for {}: {}", source(request), e.getMessage());
          }
          commit(request); // only now: the reply (or dead letter) is on the broker
          if (stopping) break; // the rest of this poll stays uncommitted: another instance answers it
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.error("stopping: {}", e.toString()); // e.g. the broker refused our credentials
      exitCode = 1;
    } finally {
      consumer.close(); // leaves the group at once, so its partitions move to the other instances
      consumerClosed.countDown();
    }
    if (!stopping) System.exit(exitCode); // runs shutdown(): `down`, then the producer closes
  }

  /** SIGTERM, Ctrl-C or System.exit: `down` first, then the request in hand is finished and committed. */
  private void shutdown() {
    stopping = true;
    heartbeats.shutdown();
    try {
      heartbeats.awaitTermination(5, TimeUnit.SECONDS);
      heartbeat("down");
      consumerClosed.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    producer.close(Duration.ofSeconds(5));
    LOG.info("{}/{} stopped", department, instanceId);
  }

  private void commit(ConsumerRecord<byte[], byte[]> request) {
    try {
      consumer.commitSync(Map.of(new TopicPartition(request.topic(), request.partition()),
          new OffsetAndMetadata(request.offset() + 1)));
    } catch (KafkaException e) {
      // E.g. the partition moved to another instance meanwhile; it will answer again (harmless).
      LOG.warn("could not commit {}: {}", source(request), e.getMessage());
    }
  }

  // ---- One request ----------------------------------------------------------------------------------

  private void handle(ConsumerRecord<byte[], byte[]> message) throws ExecutionException, InterruptedException {
    JsonNode request;
    try {
      request = message.value() == null ? null : JSON.readTree(message.value());
    } catch (IOException e) {
      request = null;
    }
    if (request == null || !request.isObject()) {
      deadLetter(message, "not valid JSON");
      return;
    }
    // Reply only to a gateway's reply topic, never to e.g. another department's request topic.
    String replyTopic = header(message, REPLY_TOPIC_HEADER);
    if (replyTopic == null || !replyTopic.startsWith(prefix + ".lookup-replies.")) {
      deadLetter(message, "no usable kafka_replyTopic header");
      return;
    }
    String problem = invalidRequest(request);
    if (problem != null) {
      deadLetter(message, "not a lookup request: " + problem);
      return;
    }
    String lookupId = request.get("lookupId").asText();
    if (!Instant.now().isBefore(OffsetDateTime.parse(request.get("deadline").asText()).toInstant())) {
      LOG.info("lookup {} is past its deadline: not answered", lookupId); // the gateway answered 504
      return;
    }

    ObjectNode reply = answer(request);
    sign(reply);
    // Copy the correlation id byte for byte; without one, the lookup id is the correlation id.
    Header correlation = message.headers().lastHeader(CORRELATION_HEADER);
    RecordHeaders headers = new RecordHeaders();
    headers.add(CORRELATION_HEADER,
        correlation != null ? correlation.value() : lookupId.getBytes(StandardCharsets.UTF_8));
    headers.add("content-type", APPLICATION_JSON);
    // Same key as the request, so one subject's replies stay together too.
    producer.send(new ProducerRecord<>(replyTopic, null, message.key(), writeJson(reply), headers)).get();
    // Log the lookup id, which the audit log resolves for those entitled to; never the subject or record.
    LOG.info("lookup {}: {}", lookupId, reply.has("error") ? "error " + reply.get("error").get("code").asText()
        : reply.get("outcome").asText());
  }

  /** Why the value is not a lookup request (version 1), or null if it is one. */
  private static String invalidRequest(JsonNode request) {
    if (!request.path("version").isInt() || request.get("version").intValue() != 1) return "version must be 1";
    for (String name : List.of("lookupId", "certificateType", "deadline")) {
      if (!request.path(name).isTextual()) return name + " must be a string";
    }
    if (!request.path("schemaVersion").isInt()) return "schemaVersion must be an integer";
    for (String name : List.of("subject", "purpose", "requester")) {
      if (!request.path(name).isObject()) return name + " must be an object";
    }
    try {
      OffsetDateTime.parse(request.get("deadline").asText());
    } catch (DateTimeParseException e) {
      return "deadline must be an RFC 3339 date-time";
    }
    return null;
  }

  /** The unsigned reply: found, not-found or error. */
  private ObjectNode answer(JsonNode request) {
    ObjectNode reply = JSON.createObjectNode();
    reply.put("version", 1);
    reply.put("lookupId", request.get("lookupId").asText());
    reply.put("outcome", "error");
    reply.put("certificateType", request.get("certificateType").asText());
    reply.put("schemaVersion", request.get("schemaVersion").intValue());
    if (!certificateType.equals(request.get("certificateType").asText())) {
      error(reply, "unsupported-certificate-type", department + " does not serve this certificate type.");
    } else if (request.get("schemaVersion").intValue() != schemaVersion) {
      error(reply, "unsupported-schema-version", "Records follow schema version " + schemaVersion + " here.");
    } else {
      try {
        List<ObjectNode> found = findRecords((ObjectNode) request.get("subject"));
        if (found.size() > 1) {
          error(reply, "ambiguous-subject", "The identifiers match more than one record.");
        } else {
          reply.put("outcome", found.isEmpty() ? "not-found" : "found");
          // All fields: the gateway projects the record to what the requester may see. A connector MAY
          // send only request.fields plus the fields the schema requires (protocol section 4).
          if (!found.isEmpty()) reply.set("record", found.get(0));
        }
      } catch (RuntimeException e) {
        // The details stay in our log; the requester only learns that the lookup failed.
        LOG.error("lookup {} failed", request.get("lookupId").asText(), e);
        error(reply, "adapter-failed", "The registry could not be searched.");
      }
    }
    ObjectNode connector = reply.putObject("connector");
    connector.put("department", department);
    connector.put("instanceId", instanceId);
    return reply;
  }

  /** Records whose identifiers include every identifier of the request's subject. */
  private List<ObjectNode> findRecords(ObjectNode subject) {
    List<ObjectNode> matches = new ArrayList<>();
    for (SeedEntry entry : registry) {
      boolean all = true;
      for (Map.Entry<String, JsonNode> identifier : subject.properties()) {
        JsonNode known = entry.subject().path(identifier.getKey()); // "<value>" or ["<value>", ...]
        boolean match = known.equals(identifier.getValue());
        for (JsonNode value : known) match |= value.equals(identifier.getValue()); // e.g. either spouse
        all &= match;
      }
      if (all) matches.add(entry.record());
    }
    return matches;
  }

  private static void error(ObjectNode reply, String code, String publicMessage) {
    reply.put("outcome", "error");
    reply.putObject("error").put("code", code).put("message", publicMessage); // no personal data in here
  }

  // ---- Signing (protocol: "Signing replies and heartbeats") -----------------------------------------

  /**
   * Adds `disclosures` (found only) and `signature`. Each record field gets a disclosure, base64url of
   * the JSON array [salt, name, value], and the signed payload lists only each disclosure's SHA-256: the
   * gateway can then pass some fields on and withhold others, and the signature still covers both.
   */
  private void sign(ObjectNode reply) {
    ObjectNode claims = JSON.createObjectNode();
    for (String name : List.of("lookupId", "certificateType", "schemaVersion", "outcome")) {
      claims.set(name, reply.get(name));
    }
    claims.put("department", department);
    if (reply.has("record")) {
      ObjectNode disclosures = JSON.createObjectNode();
      ObjectNode digests = claims.putObject("digests");
      for (Map.Entry<String, JsonNode> field : reply.get("record").properties()) {
        ArrayNode triple = JSON.createArrayNode().add(Es256Signer.salt()).add(field.getKey()).add(field.getValue());
        String disclosure = base64url(writeJson(triple));
        disclosures.put(field.getKey(), disclosure);
        digests.put(field.getKey(), base64url(sha256(disclosure.getBytes(StandardCharsets.US_ASCII))));
      }
      reply.set("disclosures", disclosures);
    }
    if (reply.has("error")) claims.set("error", reply.get("error").get("code"));
    claims.put("iat", Instant.now().getEpochSecond());
    reply.put("signature", signer.sign(claims, "silobridge-reply+jws"));
  }

  // ---- Heartbeats and dead letters ------------------------------------------------------------------

  /** `up` or `down` on the heartbeat topic, signed; its key names this instance (the topic is compacted). */
  private void heartbeat(String state) {
    ObjectNode heartbeat = JSON.createObjectNode();
    heartbeat.put("version", 1);
    heartbeat.put("department", department);
    heartbeat.put("instanceId", instanceId);
    heartbeat.putArray("certificateTypes").addObject()
        .put("certificateType", certificateType).put("schemaVersion", schemaVersion);
    heartbeat.put("state", state);
    heartbeat.put("intervalMs", heartbeatIntervalMs);
    heartbeat.put("sentAt", Instant.now().truncatedTo(ChronoUnit.MILLIS).toString());
    heartbeat.put("connectorVersion", CONNECTOR_VERSION);
    // The payload is the heartbeat itself, signed before the `signature` member is added.
    heartbeat.put("signature", signer.sign(heartbeat.deepCopy(), "silobridge-heartbeat+jws"));
    RecordHeaders headers = new RecordHeaders();
    headers.add("content-type", APPLICATION_JSON);
    byte[] key = (department + "/" + instanceId).getBytes(StandardCharsets.UTF_8);
    try {
      producer.send(new ProducerRecord<>(heartbeatTopic, null, key, writeJson(heartbeat), headers))
          .get(10, TimeUnit.SECONDS);
    } catch (Exception e) { // a missed heartbeat is not fatal: the next one comes in intervalMs
      LOG.warn("heartbeat {} not sent: {}", state, e.toString());
    }
  }

  /** Copies the record, key, value and every header, to the dead-letter topic with the reason. */
  private void deadLetter(ConsumerRecord<byte[], byte[]> message, String reason)
      throws ExecutionException, InterruptedException {
    LOG.warn("dead-lettering {}: {}", source(message), reason);
    RecordHeaders headers = new RecordHeaders(message.headers().toArray());
    headers.add(DEAD_LETTER_REASON_HEADER, reason.getBytes(StandardCharsets.UTF_8));
    headers.add(DEAD_LETTER_SOURCE_HEADER, source(message).getBytes(StandardCharsets.UTF_8));
    producer.send(new ProducerRecord<>(deadLetterTopic, null, message.key(), message.value(), headers)).get();
  }

  // ---- Small helpers --------------------------------------------------------------------------------

  private static String source(ConsumerRecord<?, ?> message) {
    return message.topic() + "/" + message.partition() + "/" + message.offset();
  }

  private static String header(ConsumerRecord<?, ?> message, String name) {
    Header header = message.headers().lastHeader(name);
    return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value.trim();
  }

  private static int positiveInt(String name, String fallback) {
    String value = env(name, fallback);
    if (!value.matches("[1-9][0-9]{0,8}")) throw new IllegalArgumentException(name + " must be a positive integer");
    return Integer.parseInt(value);
  }

  /** host name and process id, e.g. `reg-app-3-41721`: unique per running instance. */
  private static String defaultInstanceId() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName().toLowerCase().replaceAll("[^a-z0-9._-]", "-");
    } catch (IOException e) {
      host = "java";
    }
    return host + "-" + ProcessHandle.current().pid();
  }

  static byte[] writeJson(JsonNode node) {
    try {
      return JSON.writeValueAsBytes(node); // UTF-8, no spaces
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String base64url(byte[] bytes) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e); // every JDK has SHA-256
    }
  }

  /** One entry of a seed file: [{ "subject": { "<identifier>": "<value>" or [...] }, "record": {...} }]. */
  record SeedEntry(ObjectNode subject, ObjectNode record) {
    static List<SeedEntry> load(Path file) throws IOException {
      JsonNode seed = JSON.readTree(file.toFile());
      if (!seed.isArray()) throw new IOException(file + ": a seed file is a JSON array");
      List<SeedEntry> entries = new ArrayList<>();
      for (JsonNode entry : seed) {
        if (!entry.path("subject").isObject() || !entry.path("record").isObject()) {
          throw new IOException(file + ": each entry needs a subject object and a record object");
        }
        entries.add(new SeedEntry((ObjectNode) entry.get("subject"), (ObjectNode) entry.get("record")));
      }
      return entries;
    }
  }

  /** ES256 compact JWS with the department's private key, from a JWK file; nothing but the JDK. */
  static final class Es256Signer {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final String keyId; // <system id>#<key id>: the gateway looks the public key up by it
    private final PrivateKey key;

    private Es256Signer(String keyId, PrivateKey key) {
      this.keyId = keyId;
      this.key = key;
    }

    /** A private EC P-256 JWK: {"kty":"EC","crv":"P-256","x":..,"y":..,"d":..,"kid":..}. */
    static Es256Signer fromJwkFile(Path file, String systemId) throws IOException, GeneralSecurityException {
      // A private key that others may read is no longer private (the SiloBridge SDK refuses it too).
      if (file.getFileSystem().supportedFileAttributeViews().contains("posix")
          && Files.getPosixFilePermissions(file).stream().anyMatch(p -> p.name().startsWith("GROUP_")
              || p.name().startsWith("OTHERS_"))) {
        throw new IllegalArgumentException(file + " is readable by other users: chmod 600 " + file);
      }
      JsonNode jwk = JSON.readTree(file.toFile());
      if (!"EC".equals(jwk.path("kty").asText()) || !"P-256".equals(jwk.path("crv").asText())
          || !jwk.path("d").isTextual()) {
        throw new IllegalArgumentException(file + " is not a private EC P-256 JWK (kty EC, crv P-256, with d)");
      }
      String kid = jwk.path("kid").asText();
      if (!kid.matches("[A-Za-z0-9._-]{1,128}")) {
        throw new IllegalArgumentException(file + " has no usable kid: the key id it was registered under");
      }
      // P-256 is secp256r1: the JDK supplies the curve, the JWK supplies the private scalar d.
      AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC");
      parameters.init(new ECGenParameterSpec("secp256r1"));
      ECParameterSpec curve = parameters.getParameterSpec(ECParameterSpec.class);
      KeyFactory keys = KeyFactory.getInstance("EC");
      Es256Signer signer = new Es256Signer(systemId + "#" + kid,
          keys.generatePrivate(new ECPrivateKeySpec(unsigned(jwk.get("d")), curve)));
      // If the JWK carries its public half (x, y), check that d belongs to it: a mismatch would make
      // the gateway refuse every reply, so say so at start-up instead.
      if (jwk.path("x").isTextual() && jwk.path("y").isTextual()) {
        ECPoint point = new ECPoint(unsigned(jwk.get("x")), unsigned(jwk.get("y")));
        byte[] probe = "silobridge key check".getBytes(StandardCharsets.US_ASCII);
        Signature verifier = Signature.getInstance("SHA256withECDSAinP1363Format");
        verifier.initVerify(keys.generatePublic(new ECPublicKeySpec(point, curve)));
        verifier.update(probe);
        if (!verifier.verify(signer.signBytes(probe))) {
          throw new IllegalArgumentException(file + ": d does not belong to the public key x, y");
        }
      }
      return signer;
    }

    /** base64url(header) "." base64url(payload) "." base64url(r || s), each half 32 bytes. */
    String sign(ObjectNode payload, String typ) {
      ObjectNode header = JSON.createObjectNode().put("alg", "ES256").put("kid", keyId).put("typ", typ);
      String input = base64url(writeJson(header)) + "." + base64url(writeJson(payload));
      return input + "." + base64url(signBytes(input.getBytes(StandardCharsets.US_ASCII)));
    }

    private byte[] signBytes(byte[] input) {
      try {
        // "inP1363Format": the raw 64-byte r || s that JWS wants, not the DER of plain SHA256withECDSA.
        Signature signature = Signature.getInstance("SHA256withECDSAinP1363Format");
        signature.initSign(key, RANDOM);
        signature.update(input);
        return signature.sign();
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }

    /** 16 random bytes, base64url: 128 bits, so nobody can guess a withheld field from its digest. */
    static String salt() {
      byte[] salt = new byte[16];
      RANDOM.nextBytes(salt);
      return base64url(salt);
    }

    private static BigInteger unsigned(JsonNode base64url) {
      return new BigInteger(1, Base64.getUrlDecoder().decode(base64url.asText()));
    }
  }
}
