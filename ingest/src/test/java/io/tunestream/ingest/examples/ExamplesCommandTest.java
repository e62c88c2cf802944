package io.tunestream.ingest.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.ingest.CliContext;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.ingest.IngestCli;
import io.tunestream.ingest.jsonl.TransactionalSender;
import io.tunestream.schemas.LabelledExample;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExamplesCommandTest {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return IngestCli.commandLine(new CliContext(new PrintWriter(out, true), new PrintWriter(err, true),
                Clock.systemUTC())).execute(args);
    }

    @Test
    void shouldStillRequireAFileWhenNoSubcommandIsGiven() {
        assertThat(run("examples")).isEqualTo(ExitCodes.USAGE);

        assertThat(err.toString()).startsWith("Missing required parameter: 'FILE'");
    }

    @Test
    void shouldOfferDeleteWithItsOwnHelp() {
        assertThat(run("examples", "delete", "--help")).isZero();

        assertThat(out.toString()).startsWith("Usage: ingest examples delete").contains("--task=TASK", "ID...",
                "--bootstrap-servers=HOST:PORT");
    }

    @Test
    void shouldSendOneTombstonePerDistinctIdKeyedTaskSlashId() {
        List<TransactionalSender.Outgoing<LabelledExample>> tombstones = ExamplesDeleteCommand.tombstones("squad",
                List.of("e1", "e2/x", "e1"));

        assertThat(tombstones).extracting(TransactionalSender.Outgoing::key).containsExactly("squad/e1", "squad/e2/x");
        assertThat(tombstones).extracting(TransactionalSender.Outgoing::value).containsOnlyNulls();
    }
}
