package io.tunestream.trainer.peft;

import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.TrainerTopics;
import io.tunestream.trainer.loop.VersionHeader;
import io.tunestream.trainer.run.TrainerModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./tunestream adapters}: PEFT interchange of a task's adapter. {@code export} writes the task's latest
 * version on {@code adapters} as a PEFT directory; {@code import} checks a PEFT directory against the model and the
 * task's template, numbers, signs and publishes it as the task's next version. Trainer-side (it runs with the
 * trainer's model, key and Kafka principal, which reads and writes {@code adapters}) until the trainer's HTTP API
 * takes the import over; the checks and conversions are {@code schemas}' ({@code io.tunestream.schemas.peft}).
 *
 * <p>Run an import while no trainer run of the task is about to publish: a run numbers its version when it starts
 * and would publish the same number (the trainer's API, inside the replica owning the task, will not have this
 * limit).
 */
@Command(name = "adapters", mixinStandardHelpOptions = true, version = "Tunestream adapters 0.1.0",
        description = "Export a task's adapter as a PEFT directory, or import one (PEFT prompt tuning, p-tuning, prefix tuning).",
        subcommands = {AdaptersCli.Export.class, AdaptersCli.Import.class})
public final class AdaptersCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec self;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(self.commandLine(), "Missing command: export or import");
    }

    /** Where Kafka and the registry are; the other Kafka client settings come from the environment as the trainer's. */
    static final class Connection {
        @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
                defaultValue = "${env:TUNESTREAM_BOOTSTRAP_SERVERS:-localhost:9092}",
                description = "Kafka bootstrap servers (env TUNESTREAM_BOOTSTRAP_SERVERS; default: ${DEFAULT-VALUE}).")
        String bootstrapServers;

        @Option(names = "--registry-url", paramLabel = "URL",
                defaultValue = "${env:TUNESTREAM_REGISTRY_URL:-http://localhost:8080}",
                description = "Apicurio Registry URL (env TUNESTREAM_REGISTRY_URL; default: ${DEFAULT-VALUE}).")
        String registryUrl;

        @Option(names = "--topics-prefix", paramLabel = "PREFIX", defaultValue = "${env:TUNESTREAM_TOPICS_PREFIX:-}",
                description = "Put in front of every topic name (env TUNESTREAM_TOPICS_PREFIX).")
        String topicsPrefix;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "PT30S",
                description = "Longest wait for Kafka and the registry, per topic read (default: ${DEFAULT-VALUE}).")
        Duration timeout;

        KafkaClientConfig kafka() {
            // TUNESTREAM_KAFKA_CONFIG, TUNESTREAM_KAFKA_SECURITY_PROTOCOL, _SASL_*, _SSL_*, TUNESTREAM_REGISTRY_AUTH_*:
            // as the trainer reads them
            return new KafkaClientConfig(bootstrapServers, RegistryConfig.fromEnvironment(registryUrl, System.getenv()),
                    KafkaClientSettings.load(Map.of(), System.getenv()));
        }

        TrainerTopics topics() {
            return new TrainerTopics(topicsPrefix == null ? "" : topicsPrefix);
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Write a task's adapter (the latest version on the adapters topic, or --adapter-version) as a PEFT "
                    + "directory: adapter_config.json and adapter_model.safetensors.",
            footer = {"", "Example:", "  ./tunestream adapters export --task squad --output squad-peft"})
    static final class Export implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Option(names = "--task", required = true, paramLabel = "TASK", description = "The task.")
        String task;

        @Option(names = "--adapter-version", paramLabel = "N",
                description = "This version instead of the latest (compaction keeps only the latest for long).")
        Integer version;

        @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR",
                description = "Directory to write (created; its two files replaced).")
        Path output;

        @Option(names = "--base-model", paramLabel = "NAME",
                description = "base_model_name_or_path of the PEFT config (a Hub id or path of the same weights).")
        String baseModel;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            TaskAdapterHistory history = TaskAdapterHistory.read(connection.kafka(), connection.topics(), task,
                    connection.timeout, Clock.systemUTC());
            Optional<AdapterVersion> adapter = version == null ? history.latest()
                    : Optional.ofNullable(history.versions().get(version));
            if (adapter.isEmpty()) {
                throw new IllegalStateException("task '" + task + "' has " + (version == null ? "no adapter"
                        : "no version " + version + " left (versions on the topic: " + history.versions().keySet() + ")")
                        + " on " + connection.topics().adapters());
            }
            PeftAdapter peft = PeftConversion.toPeft(adapter.get(), Optional.ofNullable(baseModel));
            peft.write(output);
            out.println("wrote " + task + " v" + adapter.get().getVersion() + " (" + peft.config().peftType() + ", "
                    + peft.promptEmbeddings().getShape() + " " + peft.promptEmbeddings().getDtype() + ", signed by "
                    + Optional.ofNullable(adapter.get().getSignatureKeyId()).orElse("nobody") + ") to " + output);
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = {"Check a PEFT directory against the model and the task's template, number it above every "
                    + "version of the task, sign it with the trainer's key and publish it on adapters.",
                    "Refused (exit 1, with the reason): another PEFT type, another base model (fingerprint in an "
                            + "exported file's metadata, hidden size, layers, heads or head size), another number of "
                            + "virtual tokens or prompt style than the template's, a malformed file, a NaN."},
            footer = {"", "Example:", "  ./tunestream adapters import --task squad --model-dir models/demo-gpt2 \\",
                    "      --signing-key .tunestream/keys/adapter-signing.pem --signing-key-id local-trainer squad-peft"})
    static final class Import implements Callable<Integer> {
        @Mixin
        Connection connection;

        @Option(names = "--task", required = true, paramLabel = "TASK", description = "The task.")
        String task;

        @Parameters(paramLabel = "DIR", description = "The PEFT directory (adapter_config.json, adapter_model.safetensors).")
        Path directory;

        @Option(names = "--model-dir", paramLabel = "DIR", defaultValue = "${env:TUNESTREAM_MODEL_DIR:-models/demo-gpt2}",
                description = "The trainer's model (env TUNESTREAM_MODEL_DIR; default: ${DEFAULT-VALUE}).")
        Path modelDir;

        @Option(names = "--signing-key", paramLabel = "FILE", defaultValue = "${env:TUNESTREAM_ADAPTERS_SIGNING_KEY}",
                description = "The trainer's Ed25519 private key (env TUNESTREAM_ADAPTERS_SIGNING_KEY).")
        Path signingKey;

        @Option(names = "--signing-key-id", paramLabel = "ID", defaultValue = "${env:TUNESTREAM_ADAPTERS_SIGNING_KEY_ID}",
                description = "Its key id (env TUNESTREAM_ADAPTERS_SIGNING_KEY_ID).")
        String signingKeyId;

        @Option(names = "--unsigned", description = "Publish without a signature (only for serving that accepts them).")
        boolean unsigned;

        @Option(names = "--group-id", paramLabel = "ID", defaultValue = "${env:TUNESTREAM_TRAINER_GROUP_ID:-tunestream-trainer}",
                description = "The trainer's group id: the transactional id is <group>-import-<task> (default: ${DEFAULT-VALUE}).")
        String groupId;

        @Option(names = "--dry-run", description = "Check and print what would be published; publish nothing.")
        boolean dryRun;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            Optional<AdapterSigner> signer = signer();
            PeftAdapter peft = PeftAdapter.read(directory);
            AdapterCheck model;
            try (TrainerModel loaded = TrainerModel.load(modelDir, RuntimeConfig.cpu(1))) {
                model = new AdapterCheck(loaded.fingerprint(), loaded.hiddenSize(), loaded.decoder());
            }
            KafkaClientConfig kafka = connection.kafka();
            TrainerTopics topics = connection.topics();
            TaskAdapterHistory history = TaskAdapterHistory.read(kafka, topics, task, connection.timeout,
                    Clock.systemUTC());
            AdapterVersion adapter = PeftImport.adapter(peft, model, history, signer, "peft-import-" + UUID.randomUUID(),
                    Clock.systemUTC().millis());
            TrainingRun run = PeftImport.run(adapter, peft, directory.toString());
            String what = task + " v" + adapter.getVersion() + " (" + peft.config().peftType() + ", "
                    + adapter.getTable().getShape() + " " + adapter.getTable().getDtype() + ", "
                    + (adapter.getSignatureKeyId() == null ? "unsigned" : "signed by " + adapter.getSignatureKeyId()) + ")";
            if (dryRun) {
                out.println("would publish " + what + "; nothing published (--dry-run)");
                return 0;
            }
            publish(kafka, topics, groupId + "-import-" + task, adapter, run);
            out.println("published " + what + " on " + topics.adapters() + ", run " + adapter.getRunId());
            return 0;
        }

        private Optional<AdapterSigner> signer() {
            boolean key = signingKey != null && !signingKey.toString().isBlank();
            boolean id = signingKeyId != null && !signingKeyId.isBlank();
            if (unsigned) {
                return Optional.empty();
            }
            if (!key || !id) {
                throw new CommandLine.ParameterException(spec.commandLine(), "set --signing-key and --signing-key-id "
                        + "(or TUNESTREAM_ADAPTERS_SIGNING_KEY and _ID): serving refuses unsigned adapters; --unsigned "
                        + "publishes without a signature");
            }
            return Optional.of(AdapterSigner.fromFile(signingKeyId, signingKey));
        }
    }

    /** The adapter (with its version header) and its run record, in one transaction. */
    static void publish(KafkaClientConfig kafka, TrainerTopics topics, String transactionalId, AdapterVersion adapter,
                        TrainingRun run) {
        try (KafkaProducer<String, SpecificRecord> producer = new KafkaProducer<>(
                kafka.transactionalProducerProperties("tunestream-adapters-import", transactionalId))) {
            producer.initTransactions();
            producer.beginTransaction();
            try {
                ProducerRecord<String, SpecificRecord> record = new ProducerRecord<>(topics.adapters(), adapter.getTask(),
                        adapter);
                VersionHeader.add(record.headers(), adapter.getVersion());
                producer.send(record);
                producer.send(new ProducerRecord<>(topics.runs(), run.getTask(), run));
                producer.commitTransaction();
            } catch (KafkaException e) {
                producer.abortTransaction();
                throw new IllegalStateException("task " + adapter.getTask() + ": publishing v" + adapter.getVersion()
                        + " failed, nothing published: " + e.getMessage(), e);
            }
        }
    }

    /** The command line, errors (a refused adapter with its reason) printed as one line. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new AdaptersCli());
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            String reason = e instanceof PeftFormatException peft ? " (" + peft.reason() + ")" : "";
            cmd.getErr().println(cmd.getCommandName() + " failed" + reason + ": " + e.getMessage());
            cmd.getErr().flush();
            return 1;
        });
        return commandLine;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

}
