package io.tunestream.trainer.loop;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

class VersionHeaderTest {

    @Test
    void shouldReadBackTheVersionItWrote() {
        RecordHeaders headers = new RecordHeaders();
        VersionHeader.add(headers, 12);

        assertThat(new String(headers.lastHeader("tunestream.adapter.version").value(), StandardCharsets.UTF_8))
                .isEqualTo("12");
        assertThat(VersionHeader.read(headers)).isEqualTo(OptionalInt.of(12));
    }

    @Test
    void shouldGiveNoVersionWithoutAReadableHeader() {
        RecordHeaders garbage = new RecordHeaders();
        garbage.add("tunestream.adapter.version", "v12".getBytes(StandardCharsets.UTF_8));

        assertThat(VersionHeader.read(new RecordHeaders())).isEmpty();
        assertThat(VersionHeader.read(garbage)).isEmpty();
    }
}
