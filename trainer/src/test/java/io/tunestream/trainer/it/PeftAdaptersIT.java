package io.tunestream.trainer.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.peft.AdaptersCli;
import io.tunestream.trainer.testing.Fixtures;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code ./tunestream adapters import} and {@code export} on the real broker and registry with tiny-gpt2: a PEFT
 * prefix-tuning directory becomes the task's signed v1 (then v2) that serving's checks accept, and exports back to the
 * same tensor; a prefix for another model is refused with its reason and publishes nothing.
 */
@ExtendWith(LocalPlatformExtension.class)
class PeftAdaptersIT {

    private record Run(int exitCode, String out, String err) {
    }

    @Test
    void shouldImportSignedVersionsAndExportThemBack(PlatformEndpoints platform, @TempDir Path dir) throws IOException {
        KafkaClientConfig kafka = new KafkaClientConfig(platform.bootstrapServers(),
                RegistryConfig.forRegistry(platform.registryUrl()));
        TrainerTopics topics = new TrainerTopics("peft-it-");
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(kafka.adminProperties())) {
            new io.tunestream.schemas.TopicsAdmin(admin, io.tunestream.schemas.TopicsAdmin.Layout.catalogue(),
                    Duration.ofSeconds(30)).ensure(topics.specs());
        }
        new io.tunestream.schemas.registry.SchemaRegistration(kafka.registry()).registerAll(topics.specs());
        TaskTemplate template = TaskTemplate.newBuilder().setTask("deep")
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|>{prompt}{answer}").setPromptTemplateFields(List.of("prompt", "answer"))
                .setAnswerField("answer").setVirtualTokenSplits(List.of(3)).setTotalVirtualTokens(3)
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build())
                .build();
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(kafka.producerProperties("peft-it"))) {
            producer.send(new ProducerRecord<>(topics.templates(), "deep", template));
        }
        KeyPair keys = AdapterKeys.generate();
        Path privateKey = dir.resolve("trainer.pem");
        AdapterKeys.writePem(keys.getPrivate(), privateKey);
        Path models = Fixtures.tinyGpt2().getParent();
        List<String> connection = List.of("--bootstrap-servers", platform.bootstrapServers(), "--registry-url",
                platform.registryUrl(), "--topics-prefix", "peft-it-");

        Run refused = run(connection, "import", "--task", "deep", "--model-dir", Fixtures.tinyGpt2().toString(),
                "--signing-key", privateKey.toString(), "--signing-key-id", "it-key",
                models.resolve("tiny-llama/peft/prefix-tuning").toString());
        Run first = run(connection, "import", "--task", "deep", "--model-dir", Fixtures.tinyGpt2().toString(),
                "--signing-key", privateKey.toString(), "--signing-key-id", "it-key",
                models.resolve("tiny-gpt2/peft/prefix-tuning").toString());
        Run second = run(connection, "import", "--task", "deep", "--model-dir", Fixtures.tinyGpt2().toString(),
                "--signing-key", privateKey.toString(), "--signing-key-id", "it-key",
                models.resolve("tiny-gpt2/peft/prefix-tuning").toString());
        Run exported = run(connection, "export", "--task", "deep", "--output", dir.resolve("out").toString(),
                "--base-model", "models/tiny-gpt2");

        assertThat(refused.exitCode()).as(refused.err()).isEqualTo(1);
        assertThat(refused.err()).contains("import failed (model): PEFT PREFIX_TUNING adapter for task deep is a prefix "
                + "for 2 layers x 2 heads x head size 16");
        assertThat(first.exitCode()).as(first.err()).isZero();
        assertThat(first.out()).contains("published deep v1 (PREFIX_TUNING, [3, 256] FLOAT32, signed by it-key)");
        assertThat(second.exitCode()).as(second.err()).isZero();
        assertThat(second.out()).contains("published deep v2");
        assertThat(exported.exitCode()).as(exported.err()).isZero();
        assertThat(exported.out()).contains("wrote deep v2 (PREFIX_TUNING, [3, 256] FLOAT32, signed by it-key)");

        String fingerprint;
        try (DecoderModel model = DecoderModel.load(Fixtures.tinyGpt2(), RuntimeConfig.cpu(1))) {
            fingerprint = model.fingerprint();
        }
        List<AdapterVersion> adapters;
        try (TopicReader<AdapterVersion> reader = new TopicReader<>(kafka, topics.adapters(), AdapterVersion.class)) {
            adapters = reader.await(seen -> seen.size() >= 2, Duration.ofSeconds(30));
        }
        assertThat(adapters).extracting(AdapterVersion::getVersion).containsExactly(1, 2);
        AdapterVerifier verifier = AdapterVerifier.trusting(Map.of("it-key", keys.getPublic()));
        AdapterCheck check = new AdapterCheck(fingerprint, 64, new AdapterCheck.Decoder(2, 4, 16));
        for (AdapterVersion adapter : adapters) {
            assertThat(verifier.refusal(adapter)).as("signature of v%d", adapter.getVersion()).isEmpty();
            assertThat(check.refusal(adapter)).as("serving's checks of v%d", adapter.getVersion()).isEmpty();
            assertThat(adapter.getDeepPrompt()).isEqualTo(new DeepPromptShape(2, 4, 16));
        }
        try (TopicReader<TrainingRun> reader = new TopicReader<>(kafka, topics.runs(), TrainingRun.class)) {
            assertThat(reader.await(seen -> seen.size() >= 2, Duration.ofSeconds(30)))
                    .extracting(TrainingRun::getPublishedVersion).containsExactly(1, 2);
        }
        PeftAdapter original = PeftAdapter.read(models.resolve("tiny-gpt2/peft/prefix-tuning"));
        PeftAdapter back = PeftAdapter.read(dir.resolve("out"));
        assertThat(back.promptEmbeddings().getData()).isEqualTo(original.promptEmbeddings().getData());
        assertThat(back.config().numLayers()).isEqualTo(original.config().numLayers());
        assertThat(back.config().numAttentionHeads()).isEqualTo(original.config().numAttentionHeads());
        assertThat(back.metadata()).containsEntry("tunestream.model_fingerprint", fingerprint)
                .containsEntry("tunestream.version", "2");
    }

    private static Run run(List<String> connection, String command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = AdaptersCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>();
        all.add(command);
        all.addAll(connection);
        all.addAll(List.of(args));
        int code = cli.execute(all.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString());
    }
}
