package io.tunestream.ingest.http;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.schemas.http.BearerToken;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code serve}: the ingest operations over HTTP until interrupted. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the ingest operations over HTTP until interrupted: POST /templates (NeMo YAML or JSON), "
                + "POST /examples?split=TRAIN (JSONL), POST /ask (JSON), POST /feedback (JSON). Responses are JSON.",
                "With a token (--token-file, or the environment variable " + ServeCommand.TOKEN_ENV + "), every "
                        + "request must send 'Authorization: Bearer <token>' (else 401)."},
        footer = {"", "Example:", "  ingest serve --port 8090 --token-file /run/secrets/ingest-token",
                "  curl -s -H \"Authorization: Bearer $(cat /run/secrets/ingest-token)\" "
                        + "--data-binary @data/templates.yaml localhost:8090/templates"})
public final class ServeCommand implements Callable<Integer> {

    /** Environment variable holding the bearer token itself (a file is preferred: --token-file). */
    static final String TOKEN_ENV = "TUNESTREAM_INGEST_HTTP_TOKEN";

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
            description = "Address to listen on (default ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", defaultValue = "8090", paramLabel = "PORT",
            description = "Port to listen on, 0 for a free one (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--timeout", defaultValue = "PT60S", paramLabel = "DURATION",
            description = "How long a call waits for Kafka, the registry or an answer (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--token-file", paramLabel = "FILE", defaultValue = "${env:TUNESTREAM_INGEST_HTTP_TOKEN_FILE}",
            description = "File holding the bearer token clients must send (env TUNESTREAM_INGEST_HTTP_TOKEN_FILE; "
                    + "or the token itself in env " + TOKEN_ENV + "). Without either, no token is asked for.")
    Path tokenFile;

    @Option(names = "--max-body-bytes", defaultValue = "" + IngestHttpSettings.DEFAULT_MAX_BODY_BYTES,
            paramLabel = "BYTES", description = "Larger bodies get 413 (default ${DEFAULT-VALUE}).")
    long maxBodyBytes;

    @Option(names = "--max-ask-timeout", defaultValue = "PT5M", paramLabel = "DURATION",
            description = "Longest timeout_seconds an ask may give; longer is a 400 (default ${DEFAULT-VALUE}).")
    Duration maxAskTimeout;

    @Option(names = "--max-waiting-asks", defaultValue = "" + IngestHttpSettings.DEFAULT_MAX_WAITING_ASKS,
            paramLabel = "N", description = "Asks waiting for their answers at once; more get 429 (default ${DEFAULT-VALUE}).")
    int maxWaitingAsks;

    @Option(names = "--request-read-timeout", defaultValue = "PT30S", paramLabel = "DURATION",
            description = "A request whose body has not all arrived this long after its headers is dropped "
                    + "(default ${DEFAULT-VALUE}).")
    Duration requestReadTimeout;

    public ServeCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws InterruptedException {
        IngestHttpSettings settings = IngestHttpSettings.defaults(new InetSocketAddress(host, port), timeout)
                .withLimits(maxBodyBytes, maxAskTimeout, maxWaitingAsks)
                .withRequestReadTimeout(requestReadTimeout);
        Optional<BearerToken> token = token();
        if (token.isPresent()) {
            settings = settings.withToken(token.get());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        try (IngestHttpServer server = IngestHttpServer.start(connection.kafka(), settings, cli.clock())) {
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown, "ingest-http-stop"));
            cli.out().println("ingest HTTP endpoint on http://" + host + ":" + server.port()
                    + " (POST /templates, /examples, /ask, /feedback; "
                    + (token.isPresent() ? "bearer token required" : "no token required") + "); Ctrl-C stops it");
            cli.out().flush();
            stopped.await();
        }
        return ExitCodes.OK;
    }

    private Optional<BearerToken> token() {
        if (tokenFile != null) {
            return Optional.of(BearerToken.fromFile(tokenFile));
        }
        return Optional.ofNullable(System.getenv(TOKEN_ENV)).filter(t -> !t.isBlank()).map(BearerToken::of);
    }
}
