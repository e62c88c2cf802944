package io.tunestream.trainer.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftArchive;
import io.tunestream.schemas.registry.AvroSerdes;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.it.RawTopic;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.peft.AdaptersCli;
import io.tunestream.trainer.testing.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT import and export over HTTP in the Quarkus service (the real loop with tiny-gpt2, signing, on the embedded
 * broker and registry): {@code POST /api/tasks/{task}/versions/peft} numbers above the task's versions, signs, records
 * IMPORTED and serves the file's tensor; refusals carry the PEFT reason; {@code ./tunestream adapters import} is a
 * client of the endpoint and {@code export} reads the published version back.
 */
@QuarkusTest
@WithTestResource(LocalPlatformResource.class)
class PeftImportHttpTest {

    private static final String TASK = "peftdeep";
    private static final Path MODELS = Fixtures.tinyGpt2().getParent();
    private static final Path GPT2_PREFIX = MODELS.resolve("tiny-gpt2/peft/prefix-tuning");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();

    @TestHTTPResource("/")
    URI root;

    @ConfigProperty(name = "tunestream.bootstrap-servers")
    String bootstrapServers;

    @ConfigProperty(name = "tunestream.registry-url")
    String registryUrl;

    @ConfigProperty(name = "tunestream.adapters-signing-key")
    String signingKey;

    private KafkaClientConfig kafka() {
        return new KafkaClientConfig(bootstrapServers, RegistryConfig.forRegistry(registryUrl));
    }

    private final TrainerTopics topics = new TrainerTopics("quarkus-");

    private HttpResponse<byte[]> send(String method, String path, String contentType, byte[] body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(root.resolve(path)).timeout(Duration.ofSeconds(20))
                .header("Authorization", "Bearer " + TrainerApiHttpTest.TOKEN)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new AssertionError(method + " " + path + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static JsonNode json(HttpResponse<byte[]> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + response.statusCode() + "): "
                    + new String(response.body(), StandardCharsets.UTF_8), e);
        }
    }

    private HttpResponse<byte[]> importZip(String task, byte[] zip) {
        return send("POST", "/api/tasks/" + task + "/versions/peft?reason=from+the+hub", "application/zip", zip);
    }

    private static byte[] zip(byte[] config, byte[] weights) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(bytes)) {
            out.putNextEntry(new ZipEntry("adapter_config.json"));
            out.write(config);
            out.putNextEntry(new ZipEntry("adapter_model.safetensors"));
            out.write(weights);
            out.closeEntry();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    private static byte[] file(Path path) {
        try {
            return Files.readAllBytes(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] fixtureZip(Path dir) {
        return zip(file(dir.resolve("adapter_config.json")), file(dir.resolve("adapter_model.safetensors")));
    }

    private <T extends SpecificRecord> List<T> read(String topic, Class<T> type) {
        try (Deserializer<T> decode = AvroSerdes.deserializer(type, kafka().registry())) {
            return RawTopic.read(kafka(), topic, true).stream().filter(r -> r.value() != null)
                    .map(r -> decode.deserialize(r.topic(), r.headers(), r.value())).toList();
        }
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var commandLine = AdaptersCli.commandLine();
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        int code = commandLine.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void taskKnown() {
        TaskTemplate template = TaskTemplate.newBuilder().setTask(TASK)
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|>{prompt}{answer}").setPromptTemplateFields(List.of("prompt", "answer"))
                .setAnswerField("answer").setVirtualTokenSplits(List.of(3)).setTotalVirtualTokens(3)
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build())
                .build();
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka().producerProperties("peft-http"))) {
            producer.send(new ProducerRecord<>(topics.templates(), TASK, template));
        }
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> send("GET", "/api/tasks/" + TASK, null, null).statusCode() == 200);
    }

    @Test
    void shouldImportNumberSignAndServeAPeftPrefixThroughTheApiAndTheCli(@TempDir Path dir) throws IOException {
        Path token = dir.resolve("token");
        Files.writeString(token, TrainerApiHttpTest.TOKEN + "\n");

        HttpResponse<byte[]> first = importZip(TASK, fixtureZip(GPT2_PREFIX));
        assertThat(first.statusCode()).as(new String(first.body(), StandardCharsets.UTF_8)).isEqualTo(201);
        int v1 = json(first).path("version").asInt();
        Run viaCli = cli("import", "--task", TASK, "--trainer-url", root.toString(), "--token-file", token.toString(),
                "--reason", "same file again", GPT2_PREFIX.toString());
        Run exported = cli("export", "--task", TASK, "--output", dir.resolve("out").toString(), "--bootstrap-servers",
                bootstrapServers, "--registry-url", registryUrl, "--topics-prefix", "quarkus-");

        assertThat(v1).isGreaterThanOrEqualTo(1);
        assertThat(json(first).path("signatureKeyId").asText()).isEqualTo(LocalPlatformResource.SIGNING_KEY_ID);
        assertThat(json(first).path("tableShape").toString()).isEqualTo("[3,256]");
        assertThat(viaCli.exitCode()).as(viaCli.err()).isZero();
        int v2 = v1 + 1;
        assertThat(viaCli.out()).contains("published " + TASK + " v" + v2 + " (PREFIX_TUNING, [3, 256] FLOAT32, "
                + "signed by quarkus-test) through " + root);

        // served: the kept version's table is the file's tensor, byte for byte
        PeftAdapter fixture = PeftAdapter.read(GPT2_PREFIX);
        byte[] fixtureBytes = bytes(fixture.promptEmbeddings().getData());
        JsonNode tables = json(send("GET", "/api/tasks/" + TASK + "/versions/" + v2 + "/tables", null, null));
        assertThat(tables.path("table").path("dtype").asText()).isEqualTo("FLOAT32");
        assertThat(Base64.getDecoder().decode(tables.path("table").path("data").asText())).isEqualTo(fixtureBytes);
        assertThat(tables.path("deepPrompt").toString()).isEqualTo("{\"layers\":2,\"kvHeads\":4,\"headDim\":16}");

        // on the topics: both signed with the trainer's key, each with its IMPORTED run record
        AdapterVerifier verifier = AdapterVerifier.trusting(Map.of(LocalPlatformResource.SIGNING_KEY_ID,
                AdapterKeys.readPublicKey(Path.of(signingKey).resolveSibling("trainer.pub.pem"))));
        List<AdapterVersion> published = read(topics.adapters(), AdapterVersion.class).stream()
                .filter(a -> a.getTask().equals(TASK)).toList();
        assertThat(published).extracting(AdapterVersion::getVersion).containsExactly(v1, v2);
        for (AdapterVersion adapter : published) {
            assertThat(verifier.refusal(adapter)).as("signature of v%d", adapter.getVersion()).isEmpty();
            assertThat(bytes(adapter.getTable().getData())).isEqualTo(fixtureBytes);
        }
        List<TrainingRun> runs = read(topics.runs(), TrainingRun.class).stream().filter(r -> r.getTask().equals(TASK))
                .toList();
        assertThat(runs).extracting(TrainingRun::getStatus).containsExactly(RunStatus.IMPORTED, RunStatus.IMPORTED);
        assertThat(runs).extracting(TrainingRun::getPublishedVersion).containsExactly(v1, v2);
        assertThat(runs.get(0).getMessage()).isEqualTo("imported from PEFT PREFIX_TUNING adapter upload (base model "
                + "models/tiny-gpt2) through the API: from the hub");
        assertThat(runs.get(1).getMessage()).contains("adapter prefix-tuning (base model models/tiny-gpt2)")
                .endsWith(": same file again");

        // export: over HTTP as a zip, and by the CLI from the adapters topic, both the file's tensor
        HttpResponse<byte[]> zip = send("GET", "/api/tasks/" + TASK + "/versions/" + v2 + "/peft?baseModel=gpt2", null,
                null);
        assertThat(zip.statusCode()).isEqualTo(200);
        assertThat(zip.headers().firstValue("Content-Type")).hasValue("application/zip");
        PeftAdapter back = PeftArchive.read(zip.body());
        assertThat(bytes(back.promptEmbeddings().getData())).isEqualTo(fixtureBytes);
        assertThat(back.config().baseModelNameOrPath()).hasValue("gpt2");
        assertThat(back.metadata()).containsEntry("tunestream.version", Integer.toString(v2));
        assertThat(exported.exitCode()).as(exported.err()).isZero();
        assertThat(bytes(PeftAdapter.read(dir.resolve("out")).promptEmbeddings().getData())).isEqualTo(fixtureBytes);
    }

    @Test
    void shouldRefuseAdaptersThatDoNotFitWithTheirPeftReason(@TempDir Path dir) throws IOException {
        Path token = dir.resolve("token");
        Files.writeString(token, TrainerApiHttpTest.TOKEN);
        byte[] config = file(GPT2_PREFIX.resolve("adapter_config.json"));
        byte[] weights = file(GPT2_PREFIX.resolve("adapter_model.safetensors"));
        byte[] truncated = java.util.Arrays.copyOf(weights, weights.length - 100);
        byte[] lora = new String(config, StandardCharsets.UTF_8).replace("\"PREFIX_TUNING\"", "\"LORA\"")
                .getBytes(StandardCharsets.UTF_8);
        int before = read(topics.adapters(), AdapterVersion.class).size();

        HttpResponse<byte[]> llama = importZip(TASK, fixtureZip(MODELS.resolve("tiny-llama/peft/prefix-tuning")));
        HttpResponse<byte[]> cut = importZip(TASK, zip(config, truncated));
        HttpResponse<byte[]> otherType = importZip(TASK, zip(lora, weights));
        HttpResponse<byte[]> notZip = importZip(TASK, "{}".getBytes(StandardCharsets.UTF_8));
        HttpResponse<byte[]> unknown = importZip("nope", fixtureZip(GPT2_PREFIX));
        // curl --data-binary without -H 'Content-Type: application/zip' sends a form's type
        HttpResponse<byte[]> formType = send("POST", "/api/tasks/" + TASK + "/versions/peft",
                "application/x-www-form-urlencoded", fixtureZip(GPT2_PREFIX));
        HttpResponse<byte[]> openapi = send("GET", "/q/openapi?format=json", null, null);
        Run cliRefused = cli("import", "--task", TASK, "--trainer-url", root.toString(), "--token-file",
                token.toString(), MODELS.resolve("tiny-llama/peft/prefix-tuning").toString());
        Run cliWithoutToken = cli("import", "--task", TASK, "--trainer-url", root.toString(), GPT2_PREFIX.toString());

        assertThat(llama.statusCode()).isEqualTo(400);
        assertThat(json(llama).path("peftReason").asText()).isEqualTo("model");
        assertThat(json(llama).path("kind").asText()).isEqualTo("INVALID");
        assertThat(json(llama).path("reason").asText()).contains("is a prefix for 2 layers x 2 heads x head size 16");
        assertThat(cut.statusCode()).isEqualTo(400);
        assertThat(json(cut).path("peftReason").asText()).isEqualTo("safetensors");
        assertThat(otherType.statusCode()).isEqualTo(400);
        assertThat(json(otherType).path("peftReason").asText()).isEqualTo("peft_type");
        assertThat(json(otherType).path("reason").asText()).contains("LORA");
        assertThat(notZip.statusCode()).isEqualTo(400);
        assertThat(json(notZip).path("peftReason").asText()).isEqualTo("archive");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(json(unknown).path("kind").asText()).isEqualTo("UNKNOWN_TASK");
        assertThat(formType.statusCode()).isEqualTo(415);
        assertThat(json(formType).path("reason").asText()).isNotBlank();
        assertThat(new String(openapi.body(), StandardCharsets.UTF_8)).contains("/api/tasks/{task}/versions/peft")
                .contains("/api/tasks/{task}/versions/{version}/peft").contains("application/zip");
        assertThat(cliRefused.exitCode()).isEqualTo(1);
        assertThat(cliRefused.err()).contains("import failed (model): HTTP 400: task '" + TASK + "': the PEFT adapter "
                + "cannot be imported (model): PEFT PREFIX_TUNING adapter for task " + TASK + " is a prefix for 2 layers");
        assertThat(cliWithoutToken.exitCode()).isEqualTo(1);
        assertThat(cliWithoutToken.err()).contains("import failed").contains("HTTP 401");
        assertThat(read(topics.adapters(), AdapterVersion.class)).hasSize(before);
    }

    private static byte[] bytes(ByteBuffer buffer) {
        ByteBuffer copy = buffer.duplicate();
        byte[] out = new byte[copy.remaining()];
        copy.get(out);
        return out;
    }
}
