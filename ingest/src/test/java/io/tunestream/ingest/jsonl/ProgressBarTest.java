package io.tunestream.ingest.jsonl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class ProgressBarTest {

    @Test
    void shouldShowCountPercentAndRate() {
        Clock clock = Clock.fixed(Instant.ofEpochMilli(10_000), ZoneOffset.UTC);
        StringWriter err = new StringWriter();
        ProgressBar bar = new ProgressBar(new PrintWriter(err), "examples", 200, clock);

        bar.advance(100);

        assertThat(bar.render(12_000)).isEqualTo("examples [===============>              ] 100/200  50% 50/s");
        bar.finish();
        assertThat(err.toString()).endsWith("\rexamples [===============>              ] 100/200  50% 100000/s"
                + System.lineSeparator());
    }
}
