package io.tunestream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.adapters.AdapterKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServingConfigTest {

    @TempDir
    Path dir;

    private Path file(String content) throws Exception {
        Path f = dir.resolve("serving.properties");
        Files.writeString(f, content);
        return f;
    }

    private String required() {
        return "bootstrap.servers=localhost:9092\nregistry.url=http://localhost:8080\nmodel.dir=" + dir + "\n"
                + "adapters.trusted.keys=trainer=" + trustedKey() + "\n";
    }

    /** A trainer public key file in the test's directory (verification is on by default and needs one). */
    private Path trustedKey() {
        Path key = dir.resolve("trainer.pub.pem");
        if (!Files.exists(key)) {
            AdapterKeys.writePem(AdapterKeys.generate().getPublic(), key);
        }
        return key;
    }

    @Test
    void shouldVerifyAdapterSignaturesByDefaultWithTheTrustedKeys() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of());

        assertThat(config.adapterVerifier().enabled()).isTrue();
        assertThat(config.adapterVerifier().trustedKeys()).containsOnlyKeys("trainer");
        assertThat(config.adapterVerifier().acceptUnsigned()).isFalse();
    }

    @Test
    void shouldReadRegistryCredentialsWithTheSecretFromAFileAndLeaveAutoRegistrationOff() throws Exception {
        Path secret = Files.writeString(dir.resolve("registry-secret"), "s3cret\n");

        ServingConfig config = ServingConfig.load(Optional.of(file(required()
                + "registry.auth.token.endpoint=http://idp:8080/token\nregistry.auth.client.id=serving\n")),
                Map.of("TUNESTREAM_REGISTRY_AUTH_CLIENT_SECRET_FILE", secret.toString()));

        assertThat(config.registry().autoRegister()).isFalse();
        assertThat(config.registry().auth()).get().satisfies(auth -> {
            assertThat(auth.clientId()).isEqualTo("serving");
            assertThat(auth.clientSecret()).isEqualTo("s3cret");
        });
        assertThat(config.toString()).doesNotContain("s3cret");
    }

    @Test
    void shouldBoundThePrefixCacheBy64MiBByDefaultAndRefuseANegativeBound() throws Exception {
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of()).prefixCacheBytes()).isEqualTo(64L << 20);
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of("TUNESTREAM_PREFIX_CACHE_BYTES", "0"))
                .prefixCacheBytes()).isZero();
        assertThatThrownBy(() -> ServingConfig.load(Optional.of(file(required() + "prefix.cache.bytes=-1\n")), Map.of()))
                .hasMessageContaining("prefix.cache.bytes").hasMessageContaining("must be >= 0");
    }

    @Test
    void shouldBoundTheDecodedAdapterTablesBy128MiBByDefaultAndRefuseANegativeBound() throws Exception {
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of()).adapterCacheBytes()).isEqualTo(128L << 20);
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of("TUNESTREAM_ADAPTERS_CACHE_BYTES", "1048576"))
                .adapterCacheBytes()).isEqualTo(1L << 20);
        assertThatThrownBy(() -> ServingConfig.load(Optional.of(file(required() + "adapters.cache.bytes=-1\n")), Map.of()))
                .hasMessageContaining("adapters.cache.bytes").hasMessageContaining("must be >= 0");
    }

    @Test
    void shouldRefuseToStartWithVerificationOnAndNoTrustedKey() throws Exception {
        Path f = file("bootstrap.servers=localhost:9092\nregistry.url=http://localhost:8080\nmodel.dir=" + dir + "\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessageContaining("'adapters.trusted.keys' (env TUNESTREAM_ADAPTERS_TRUSTED_KEYS) is required");
        assertThat(ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_ADAPTERS_VERIFY_SIGNATURES", "false"))
                .adapterVerifier().enabled()).isFalse();
    }

    @Test
    void shouldNameTheTrustedKeyFileThatCannotBeRead() throws Exception {
        Path f = file(required() + "adapters.trusted.keys=a=" + dir.resolve("missing.pem") + "\n"
                + "adapters.accept.unsigned=maybe\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessageContaining("adapters.accept.unsigned").hasMessageContaining("must be true or false");
        Path g = file(required() + "adapters.trusted.keys=a=" + dir.resolve("missing.pem") + "\n");
        assertThatThrownBy(() -> ServingConfig.load(Optional.of(g), Map.of()))
                .hasMessageContaining("adapters.trusted.keys").hasMessageContaining("missing.pem");
    }

    @Test
    void shouldReadTheFileAndApplyDefaults() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of());

        assertThat(config.bootstrapServers()).isEqualTo("localhost:9092");
        assertThat(config.registryUrl()).isEqualTo("http://localhost:8080");
        assertThat(config.modelDir()).isEqualTo(dir);
        assertThat(config.executionProvider()).isEqualTo("CPU");
        assertThat(config.maxBatchSize()).isEqualTo(8);
        assertThat(config.parallelDecodeRows()).isEqualTo(16);
        assertThat(config.cudaDeviceId()).isZero();
        assertThat(config.maxWait()).isEqualTo(Duration.ofMillis(50));
        assertThat(config.batching().punctuateInterval()).isEqualTo(Duration.ofMillis(12));
        assertThat(config.applicationId()).isEqualTo("tunestream-serving");
        assertThat(config.topics().requests()).isEqualTo("requests");
    }

    @Test
    void shouldDefaultTheProtectionsAgainstStuckAndLostRequests() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of());

        var batching = config.batching(512 * 1024);
        assertThat(batching.batchTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(batching.cancelGrace()).isEqualTo(Duration.ofSeconds(10));
        assertThat(batching.requestMaxAge()).isEqualTo(Duration.ZERO);
        assertThat(batching.maxBufferedRequests()).isEqualTo(1000);
        assertThat(batching.bufferFullMaxWait()).isEqualTo(Duration.ofSeconds(1));
        assertThat(batching.dedupeWindow()).isEqualTo(Duration.ofMinutes(10));
        assertThat(batching.batchRetries()).isEqualTo(2);
        assertThat(batching.maxAnswerBytes()).isEqualTo(512 * 1024);
        assertThat(config.modelQueueCapacity()).isEqualTo(16);
    }

    @Test
    void shouldReadTheProtectionsFromTheEnvironment() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of(
                "TUNESTREAM_BATCH_TIMEOUT_MS", "500", "TUNESTREAM_BATCH_CANCEL_GRACE_MS", "200",
                "TUNESTREAM_REQUEST_MAX_AGE_MS", "60000", "TUNESTREAM_BUFFER_MAX_REQUESTS", "64",
                "TUNESTREAM_BUFFER_FULL_MAX_WAIT_MS", "250", "TUNESTREAM_DEDUPE_WINDOW_MS", "0",
                "TUNESTREAM_BATCH_RETRIES", "0", "TUNESTREAM_MODEL_QUEUE_CAPACITY", "4"));

        var batching = config.batching();
        assertThat(batching.batchTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(batching.cancelGrace()).isEqualTo(Duration.ofMillis(200));
        assertThat(batching.requestMaxAge()).isEqualTo(Duration.ofMinutes(1));
        assertThat(batching.maxBufferedRequests()).isEqualTo(64);
        assertThat(batching.bufferFullMaxWait()).isEqualTo(Duration.ofMillis(250));
        assertThat(batching.dedupeWindow()).isZero();
        assertThat(batching.batchRetries()).isZero();
        assertThat(config.modelQueueCapacity()).isEqualTo(4);
    }

    @Test
    void shouldRejectABackPressureWaitNearTheTransactionTimeout() throws Exception {
        Path f = file(required() + "buffer.full.max.wait.ms=8000\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config 'buffer.full.max.wait.ms' (env TUNESTREAM_BUFFER_FULL_MAX_WAIT_MS): must be "
                        + "between 0 and 5000 (well under the transaction timeout), was '8000'");
    }

    @Test
    void shouldRejectABufferLimitBelowTheBatchSize() throws Exception {
        Path f = file(required() + "batch.max.size=16\nbuffer.max.requests=8\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config 'buffer.max.requests' (env TUNESTREAM_BUFFER_MAX_REQUESTS): must be >= 16 "
                        + "(batch.max.size), was '8'");
    }

    @Test
    void shouldAcceptTheExampleConfigurationOfTheModule() {
        Path home = Path.of(System.getProperty("tunestream.home", ".."));

        ServingConfig config = ServingConfig.load(Optional.of(home.resolve("inference-stream/serving.properties")),
                Map.of("TUNESTREAM_MODEL_DIR", home.resolve("models/demo-gpt2").toString(),
                        "TUNESTREAM_ADAPTERS_TRUSTED_KEYS", "trainer-1=" + trustedKey()));

        assertThat(config.bootstrapServers()).isEqualTo("127.0.0.1:9092");
        assertThat(config.adapterVerifier().trustedKeys()).containsOnlyKeys("trainer-1");
        assertThat(config.httpPort()).isEqualTo(8081);
        assertThat(config.modelWorkers()).isEqualTo(1);
    }

    @Test
    void shouldLetEnvironmentVariablesOverrideTheFile() throws Exception {
        Path f = file(required() + "batch.max.size=4\n");

        ServingConfig config = ServingConfig.load(Optional.of(f), Map.of(
                "TUNESTREAM_BATCH_MAX_SIZE", "16",
                "TUNESTREAM_BOOTSTRAP_SERVERS", "kafka:9092",
                "TUNESTREAM_EXECUTION_PROVIDER", "cuda",
                "TUNESTREAM_BATCH_MAX_WAIT_MS", "20",
                "TUNESTREAM_THREADS", "2"));

        assertThat(config.maxBatchSize()).isEqualTo(16);
        assertThat(config.bootstrapServers()).isEqualTo("kafka:9092");
        assertThat(config.executionProvider()).isEqualTo("CUDA");
        assertThat(config.maxWait()).isEqualTo(Duration.ofMillis(20));
        assertThat(config.threads()).isEqualTo(2);
    }

    @Test
    void shouldPassKafkaPrefixedKeysToKafkaStreams() throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(file(required() + "kafka.max.poll.interval.ms=60000\n")),
                Map.of());

        assertThat(config.kafka()).containsExactly(Map.entry("max.poll.interval.ms", "60000"));
    }

    @Test
    void shouldNameTheKeyAndItsVariableWhenAValueIsBad() throws Exception {
        Path f = file(required() + "batch.max.size=zero\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("config 'batch.max.size' (env TUNESTREAM_BATCH_MAX_SIZE): must be an integer, was 'zero'");
    }

    @Test
    void shouldRejectANegativeParallelDecodeRowCount() throws Exception {
        Path f = file(required() + "decode.parallel.rows=-2\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessage("config 'decode.parallel.rows' (env TUNESTREAM_DECODE_PARALLEL_ROWS): must be >= 0, was '-2'");
    }

    @Test
    void shouldDecodeInChunksOnCudaByDefaultAndAsConfiguredOnCpu() throws Exception {
        assertThat(ServingConfig.load(Optional.of(file(required() + "execution.provider=CUDA\n")), Map.of()).decodeChunkSteps())
                .isEqualTo(ServingConfig.DEFAULT_CUDA_CHUNK_STEPS).isEqualTo(16);
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of()).decodeChunkSteps())
                .isEqualTo(ServingConfig.DEFAULT_CPU_CHUNK_STEPS);
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of("TUNESTREAM_DECODE_CHUNK_STEPS", "8"))
                .decodeChunkSteps()).isEqualTo(8);
    }

    @Test
    void shouldRejectAChunkOfOneStep() throws Exception {
        Path f = file(required() + "decode.chunk.steps=1\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessage("config 'decode.chunk.steps' (env TUNESTREAM_DECODE_CHUNK_STEPS): must be 0 (one step a run) or "
                        + "at least 2, was '1'");
    }

    @Test
    void shouldLookUpDraftsOfFourTokensByDefaultAndAsConfigured() throws Exception {
        assertThat(ServingConfig.load(Optional.of(file(required())), Map.of()).promptLookup())
                .isEqualTo(new io.tunestream.model.generate.PromptLookup(4, 2))
                .isEqualTo(io.tunestream.model.generate.PromptLookup.DEFAULT);
        assertThat(ServingConfig.load(Optional.of(file(required() + "decode.lookup.tokens=0\n")),
                Map.of("TUNESTREAM_DECODE_LOOKUP_NGRAM", "3")).promptLookup())
                .isEqualTo(new io.tunestream.model.generate.PromptLookup(0, 3));
        assertThatThrownBy(() -> ServingConfig.load(Optional.of(file(required() + "decode.lookup.ngram=0\n")), Map.of()))
                .hasMessage("config 'decode.lookup.ngram' (env TUNESTREAM_DECODE_LOOKUP_NGRAM): must be >= 1, was '0'");
        assertThatThrownBy(() -> ServingConfig.load(Optional.of(file(required() + "decode.lookup.tokens=-1\n")), Map.of()))
                .hasMessage("config 'decode.lookup.tokens' (env TUNESTREAM_DECODE_LOOKUP_TOKENS): must be >= 0, was '-1'");
    }

    @Test
    void shouldRejectABatchSizeBelowOne() throws Exception {
        Path f = file(required());

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_BATCH_MAX_SIZE", "0")))
                .hasMessage("config 'batch.max.size' (env TUNESTREAM_BATCH_MAX_SIZE): must be >= 1, was '0'");
    }

    @Test
    void shouldRequireTheBootstrapServers() {
        assertThatThrownBy(() -> ServingConfig.load(Optional.empty(), Map.of(
                "TUNESTREAM_REGISTRY_URL", "http://localhost:8080", "TUNESTREAM_MODEL_DIR", dir.toString())))
                .hasMessage("config 'bootstrap.servers' (env TUNESTREAM_BOOTSTRAP_SERVERS) is required");
    }

    @Test
    void shouldRejectAModelDirectoryThatDoesNotExist() throws Exception {
        Path f = file(required());
        Path missing = dir.resolve("missing");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_MODEL_DIR", missing.toString())))
                .hasMessage("config 'model.dir' (env TUNESTREAM_MODEL_DIR): is not a directory (absolute: "
                        + missing.toAbsolutePath() + "), was '" + missing + "'");
    }

    @Test
    void shouldRejectAnUnknownExecutionProvider() throws Exception {
        Path f = file(required() + "execution.provider=TPU\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessage("config 'execution.provider' (env TUNESTREAM_EXECUTION_PROVIDER): must be CPU or CUDA, was 'TPU'");
    }

    @Test
    void shouldRejectAnUnknownKeyRatherThanIgnoreIt() throws Exception {
        Path f = file(required() + "batch.size=4\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessageStartingWith("config key 'batch.size' is unknown; known keys: [adapters.accept.unsigned, adapters.cache.bytes, "
                        + "adapters.keep.versions, adapters.trusted.keys, adapters.verify.signatures, ");
    }

    @Test
    void shouldRejectAnUnknownSecurityProtocolNamingTheKey() throws Exception {
        Path f = file(required() + "kafka.security.protocol=TLS\n");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of()))
                .hasMessageStartingWith("kafka setting 'security.protocol' (env TUNESTREAM_KAFKA_SECURITY_PROTOCOL): "
                        + "unknown protocol 'TLS'");
    }

    @Test
    void shouldRejectAnUnreadableSecretFromTheEnvironmentNamingTheKey() throws Exception {
        Path f = file(required());
        Path missing = dir.resolve("missing.password");

        assertThatThrownBy(() -> ServingConfig.load(Optional.of(f), Map.of("TUNESTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL",
                "TUNESTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "TUNESTREAM_KAFKA_SASL_USERNAME", "serving",
                "TUNESTREAM_KAFKA_SASL_PASSWORD_FILE", missing.toString())))
                .hasMessage("kafka setting 'sasl.password.file' (env TUNESTREAM_KAFKA_SASL_PASSWORD_FILE): secret file "
                        + missing.toAbsolutePath() + " cannot be read (NoSuchFileException)");
    }

    @Test
    void shouldGiveEveryClientTheSecuritySettingsFromTheEnvironmentWithoutShowingTheSecret() throws Exception {
        Path secret = Files.writeString(dir.resolve("password"), "pa55word");
        ServingConfig config = ServingConfig.load(Optional.of(file(required())), Map.of(
                "TUNESTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "TUNESTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                "TUNESTREAM_KAFKA_SASL_USERNAME", "serving", "TUNESTREAM_KAFKA_SASL_PASSWORD_FILE", secret.toString()));

        assertThat(config.kafkaClient().describe()).isEqualTo("SASL_SSL as User:serving (SCRAM-SHA-512)");
        assertThat(ServingApp.streamsProperties(config, new io.tunestream.serving.ops.ServingMetrics(
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry())))
                .containsEntry("security.protocol", "SASL_SSL")
                .containsEntry("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
                        + "username=\"serving\" password=\"pa55word\";")
                .doesNotContainKey("sasl.password.file");
        assertThat(config.kafkaClient().toString()).doesNotContain("pa55word");
    }

    @Test
    void shouldClassifyAuthenticationAndAuthorizationFailuresAsFatalForTheStreamThreads() {
        assertThat(ServingApp.isAccessFailure(new org.apache.kafka.streams.errors.StreamsException(
                new org.apache.kafka.common.errors.TopicAuthorizationException(java.util.Set.of("adapters"))))).isTrue();
        assertThat(ServingApp.isAccessFailure(new RuntimeException(
                new org.apache.kafka.common.errors.SaslAuthenticationException("bad password")))).isTrue();
        assertThat(ServingApp.isAccessFailure(new org.apache.kafka.streams.errors.StreamsException("poll failed",
                new org.apache.kafka.common.errors.TimeoutException("slow")))).isFalse();
    }

    @Test
    void shouldListenOnEveryInterfaceUnlessABindAddressIsGiven() throws Exception {
        ServingConfig defaults = ServingConfig.load(Optional.of(file(required())), Map.of());
        ServingConfig local = ServingConfig.load(Optional.of(file(required())),
                Map.of("TUNESTREAM_HTTP_BIND_ADDRESS", "127.0.0.1"));

        assertThat(defaults.httpBindAddress()).isEqualTo("0.0.0.0");
        assertThat(local.httpBindAddress()).isEqualTo("127.0.0.1");
    }
}
