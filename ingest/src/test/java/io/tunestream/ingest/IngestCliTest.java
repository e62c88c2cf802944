package io.tunestream.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class IngestCliTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return IngestCli.commandLine(new CliContext(new PrintWriter(out, true), new PrintWriter(err, true),
                Clock.systemUTC())).execute(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {"setup", "templates", "examples", "ask", "requests", "feedback", "answers", "serve"})
    void shouldPrintHelpOfEveryCommandWithTheConnectionOptions(String command) {
        assertThat(run(command, "--help")).isZero();

        assertThat(out.toString()).startsWith("Usage: ingest " + command)
                .contains("--bootstrap-servers=HOST:PORT", "--registry-url=URL", "-h, --help");
    }

    @Test
    void shouldListTheCommandsInTheTopLevelHelp() {
        assertThat(run("--help")).isZero();

        assertThat(out.toString()).contains("setup", "templates", "examples", "ask", "requests", "feedback", "answers");
    }

    @Test
    void shouldRefuseFeedbackWithoutExactlyOneVerdict() {
        assertThat(run("feedback", "r1", "--task", "squad", "--accept", "--reject")).isEqualTo(ExitCodes.USAGE);

        assertThat(err.toString()).startsWith("Error: --accept, --reject are mutually exclusive (specify only one)");
    }
}
