package io.tunestream.ingest;

import io.tunestream.ingest.examples.ExamplesCommand;
import io.tunestream.ingest.examples.ExamplesDeleteCommand;
import io.tunestream.ingest.feedback.FeedbackCommand;
import io.tunestream.ingest.http.ServeCommand;
import io.tunestream.ingest.requests.AnswersCommand;
import io.tunestream.ingest.requests.AskCommand;
import io.tunestream.ingest.requests.RequestsCommand;
import io.tunestream.ingest.template.TemplatesCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code ingest}: puts task templates, examples, requests and feedback into Tunestream's topics
 * and reads answers back. Every subcommand has {@code --help}.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true, version = "Tunestream ingest 0.1.0",
        description = "Feed Tunestream from files and the command line; see each command's --help.",
        footer = {"", "Kafka and the registry: --bootstrap-servers / TUNESTREAM_BOOTSTRAP_SERVERS (localhost:9092), "
                + "--registry-url / TUNESTREAM_REGISTRY_URL (http://localhost:8080)."})
public final class IngestCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec self;

    @Override
    public void run() {
        // no subcommand: show what there is
        throw new CommandLine.ParameterException(self.commandLine(), "Missing command: choose one of "
                + self.subcommands().keySet());
    }

    /**
     * The command line with every subcommand, writing to {@code cli}'s streams; errors from a
     * command are printed as one line (with the cause), not a stack trace.
     */
    public static CommandLine commandLine(CliContext cli) {
        CommandLine commandLine = new CommandLine(new IngestCli())
                .addSubcommand(new SetupCommand(cli))
                .addSubcommand(new TemplatesCommand(cli))
                .addSubcommand(new CommandLine(new ExamplesCommand(cli)).addSubcommand(new ExamplesDeleteCommand(cli)))
                .addSubcommand(new AskCommand(cli))
                .addSubcommand(new RequestsCommand(cli))
                .addSubcommand(new FeedbackCommand(cli))
                .addSubcommand(new AnswersCommand(cli))
                .addSubcommand(new ServeCommand(cli));
        commandLine.setOut(cli.out());
        commandLine.setErr(cli.err());
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println(cmd.getCommandName() + " failed: " + describe(e));
            cmd.getErr().flush();
            return ExitCodes.FAILED;
        });
        return commandLine;
    }

    private static String describe(Throwable e) {
        StringBuilder text = new StringBuilder(String.valueOf(e.getMessage() != null ? e.getMessage() : e));
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            if (cause.getMessage() != null && !text.toString().contains(cause.getMessage())) {
                text.append(": ").append(cause.getMessage());
            }
        }
        return text.toString();
    }

    public static void main(String[] args) {
        // The registry client warns through java.util.logging on every run that it uses a shared
        // Vert.x instance; that is intended for a short-lived CLI. Held here: JUL keeps loggers weakly.
        java.util.logging.Logger vertxNotice = java.util.logging.Logger.getLogger(
                "io.apicurio.registry.client.common");
        vertxNotice.setLevel(java.util.logging.Level.SEVERE);
        CliContext cli = CliContext.system();
        int exitCode = commandLine(cli).execute(args);
        cli.out().flush();
        cli.err().flush();
        java.lang.ref.Reference.reachabilityFence(vertxNotice);
        System.exit(exitCode);
    }
}
