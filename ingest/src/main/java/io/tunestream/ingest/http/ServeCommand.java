package io.tunestream.ingest.http;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ConnectionOptions;
import io.tunestream.ingest.ExitCodes;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code serve}: the ingest operations over HTTP until interrupted. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the ingest operations over HTTP until interrupted: POST /templates (NeMo YAML or JSON), "
                + "POST /examples?split=TRAIN (JSONL), POST /ask (JSON), POST /feedback (JSON). Responses are JSON."},
        footer = {"", "Example:", "  ingest serve --port 8090",
                "  curl -s --data-binary @data/templates.yaml localhost:8090/templates"})
public final class ServeCommand implements Callable<Integer> {

    private final CliContext cli;

    @Mixin
    ConnectionOptions connection;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDRESS",
            description = "Address to listen on (default ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8090", paramLabel = "PORT",
            description = "Port to listen on, 0 for a free one (default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--timeout", defaultValue = "PT60S", paramLabel = "DURATION",
            description = "How long a call waits for Kafka, the registry or an answer (ISO-8601, default ${DEFAULT-VALUE}).")
    Duration timeout;

    public ServeCommand(CliContext cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        CountDownLatch stopped = new CountDownLatch(1);
        try (IngestHttpServer server = IngestHttpServer.start(connection.kafka(), new InetSocketAddress(host, port),
                cli.clock(), timeout)) {
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown, "ingest-http-stop"));
            cli.out().println("ingest HTTP endpoint on http://" + host + ":" + server.port()
                    + " (POST /templates, /examples, /ask, /feedback); Ctrl-C stops it");
            cli.out().flush();
            stopped.await();
        }
        return ExitCodes.OK;
    }
}
