package io.tunestream.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDemoTest {

    @TempDir
    Path dir;

    @Test
    void shouldAverageTheScoresOfAnAnswersFileAndCountTheAnswersOfTheVersion() throws IOException {
        // lines as ingest requests writes them: scored answers, one with an error, one of the base model
        Path answers = Files.write(dir.resolve("answers.jsonl"), List.of(
                "{\"line\":1,\"answer\":\" pilot\",\"adapter_version\":1,\"expected\":\" pilot\",\"exact_match\":1.0,\"f1\":1.0}",
                "{\"line\":2,\"answer\":\" Mirota city\",\"adapter_version\":1,\"expected\":\" Mirota\",\"exact_match\":0.0,\"f1\":0.6666666666666666}",
                "{\"line\":3,\"answer\":\"\",\"error\":{\"kind\":\"NO_ADAPTER\",\"message\":\"…\"},\"expected\":\" red\",\"exact_match\":0.0,\"f1\":0.0}",
                "{\"line\":4,\"answer\":\" cat\",\"expected\":\" cat\",\"exact_match\":1.0,\"f1\":1.0}"));

        LocalDemo.Scores v1 = LocalDemo.Scores.of(answers, 1);
        LocalDemo.Scores base = LocalDemo.Scores.of(answers, null);

        assertThat(v1.lines()).isEqualTo(4);
        assertThat(v1.exactMatch()).isEqualTo(0.5);
        assertThat(v1.f1()).isCloseTo(0.6666666666666666, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(v1.errors()).isEqualTo(1);
        assertThat(v1.withVersion()).isEqualTo(2);
        assertThat(base.withVersion()).isEqualTo(2);
    }
}
