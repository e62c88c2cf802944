package io.tunestream.trainer.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.kafka.KafkaClientConfig;
import io.tunestream.schemas.kafka.KafkaClientSettings;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftArchive;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.schemas.registry.RegistryConfig;
import io.tunestream.trainer.loop.TrainerTopics;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./tunestream adapters}: PEFT interchange of a task's adapter. {@code export} writes the task's latest
 * version on {@code adapters} as a PEFT directory; {@code import} sends a PEFT directory to the trainer's API
 * ({@code POST /api/tasks/{task}/versions/peft}), where the task's owner checks it against its model and the task's
 * template, numbers, signs and publishes it through the path of its rollbacks and runs (so an import never races a
 * run for a version number). The checks and conversions are {@code schemas}' ({@code io.tunestream.schemas.peft}).
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
            description = {"Send a PEFT directory to the trainer's API (POST /api/tasks/TASK/versions/peft, as a zip): "
                    + "the replica that owns the task checks it against its model and the task's template, numbers "
                    + "it above every version of the task, signs it and publishes it with an IMPORTED run record.",
                    "Refused (exit 1, with the reason): another PEFT type, another base model (fingerprint in an "
                            + "exported file's metadata, hidden size, layers, heads or head size), another number of "
                            + "virtual tokens or prompt style than the template's, a malformed file, a NaN; a task "
                            + "another replica owns (named), a run of the task in progress."},
            footer = {"", "Example:", "  TUNESTREAM_TRAINER_API_TOKEN_FILE=token ./tunestream adapters import --task squad \\",
                    "      --trainer-url http://localhost:8080 squad-peft"})
    static final class Import implements Callable<Integer> {
        @Option(names = "--task", required = true, paramLabel = "TASK", description = "The task.")
        String task;

        @Parameters(paramLabel = "DIR", description = "The PEFT directory (adapter_config.json, adapter_model.safetensors).")
        Path directory;

        @Option(names = "--trainer-url", paramLabel = "URL",
                defaultValue = "${env:TUNESTREAM_TRAINER_URL:-http://localhost:8080}",
                description = "The trainer's API: the replica that owns the task (env TUNESTREAM_TRAINER_URL; "
                        + "default: ${DEFAULT-VALUE}).")
        URI trainerUrl;

        @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "${env:TUNESTREAM_TRAINER_API_TOKEN_FILE}",
                description = "File holding the API's bearer token (env TUNESTREAM_TRAINER_API_TOKEN_FILE, or the "
                        + "token itself in TUNESTREAM_TRAINER_API_TOKEN).")
        Path tokenFile;

        @Option(names = "--reason", paramLabel = "TEXT", description = "Why, kept in the IMPORTED run record.")
        String reason;

        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "PT60S",
                description = "Longest wait for the trainer's answer (default: ${DEFAULT-VALUE}).")
        Duration timeout;

        @Option(names = "--dry-run", description = "Read and check the files here (format only: not against the model "
                + "or the template); send nothing.")
        boolean dryRun;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            PeftAdapter peft = PeftAdapter.read(directory);
            String what = peft.config().peftType() + ", " + peft.promptEmbeddings().getShape() + " "
                    + peft.promptEmbeddings().getDtype();
            if (dryRun) {
                out.println("read " + directory + " (" + what + "); the files are well-formed; nothing sent (--dry-run: "
                        + "the model and template checks are the trainer's)");
                return 0;
            }
            Optional<String> token = token();
            HttpRequest.Builder request = HttpRequest.newBuilder(importUri()).timeout(timeout)
                    .header("Content-Type", PeftArchive.MEDIA_TYPE).header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(PeftArchive.write(peft)));
            token.ifPresent(t -> request.header("Authorization", "Bearer " + t));
            HttpResponse<String> response;
            try {
                response = HttpClient.newBuilder().connectTimeout(timeout).build()
                        .send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + trainerUrl, e);
            } catch (IOException e) {
                throw new IllegalStateException("the trainer's API at " + trainerUrl + " cannot be reached: " + e, e);
            }
            JsonNode body = readJson(response);
            if (response.statusCode() != 201) {
                throw new TrainerRefusal(response.statusCode(), body);
            }
            out.println("published " + task + " v" + body.path("version").asInt() + " (" + what + ", "
                    + (body.path("signatureKeyId").isTextual() ? "signed by " + body.path("signatureKeyId").asText()
                    : "unsigned") + ") through " + trainerUrl + ", run " + body.path("runId").asText());
            return 0;
        }

        private URI importUri() {
            String base = trainerUrl.toString().replaceAll("/+$", "");
            String query = "source=" + encode(directory.getFileName() == null ? directory.toString()
                    : directory.getFileName().toString()) + (reason == null ? "" : "&reason=" + encode(reason));
            return URI.create(base + "/api/tasks/" + encode(task).replace("+", "%20") + "/versions/peft?" + query);
        }

        private Optional<String> token() throws IOException {
            if (tokenFile != null && !tokenFile.toString().isBlank()) {
                String token = Files.readString(tokenFile, StandardCharsets.UTF_8).strip();
                if (token.isEmpty()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "token file " + tokenFile + " is empty");
                }
                return Optional.of(token);
            }
            return Optional.ofNullable(System.getenv("TUNESTREAM_TRAINER_API_TOKEN")).map(String::strip)
                    .filter(t -> !t.isEmpty());
        }

        private JsonNode readJson(HttpResponse<String> response) {
            try {
                return JSON.readTree(response.body());
            } catch (IOException e) {
                throw new IllegalStateException(trainerUrl + " answered " + response.statusCode() + " with a body that "
                        + "is not JSON: " + response.body().substring(0, Math.min(200, response.body().length())), e);
            }
        }

        private static String encode(String text) {
            return URLEncoder.encode(text, StandardCharsets.UTF_8);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The trainer's API refused an import: its status and JSON error ({@code reason}, {@code kind}, …). */
    static final class TrainerRefusal extends RuntimeException {
        private final String tag;

        TrainerRefusal(int status, JsonNode error) {
            super("HTTP " + status + ": " + (error.path("reason").isTextual() ? error.path("reason").asText()
                    : "the trainer answered without a reason")
                    + (error.path("owner").isTextual() ? " (owner: " + error.path("owner").asText() + ")" : ""));
            this.tag = error.path("peftReason").isTextual() ? error.path("peftReason").asText()
                    : error.path("kind").asText("HTTP " + status);
        }

        String tag() {
            return tag;
        }
    }

    /** The command line, errors (a refused adapter with its reason) printed as one line. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new AdaptersCli());
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            String reason = e instanceof PeftFormatException peft ? " (" + peft.reason() + ")"
                    : e instanceof TrainerRefusal refusal ? " (" + refusal.tag() + ")" : "";
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
