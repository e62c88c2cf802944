package io.tunestream.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class RequestBodiesTest {

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-29T23:00:00Z"), ZoneOffset.UTC);
    private static final TemplateCatalog TEMPLATES = TemplateCatalog.of(TemplateFile.read(
            Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));

    private static RequestBodies.Parsed<RequestBodies.Ask> ask(String body) throws JsonProcessingException {
        return RequestBodies.ask(body, () -> TEMPLATES, CLOCK, Duration.ofSeconds(30), Duration.ofSeconds(3600));
    }

    @Test
    void shouldWaitTheGivenSecondsForTheAnswer() throws JsonProcessingException {
        var parsed = ask("{\"taskname\": \"assistant\", \"utterance\": \"play jazz\", \"timeout_seconds\": 60}");

        assertThat(parsed.ok()).isTrue();
        assertThat(parsed.value().answerWait()).isEqualTo(Duration.ofSeconds(60));
        assertThat(parsed.value().request().getFields()).containsExactly(java.util.Map.entry("utterance", "play jazz"));
    }

    @Test
    void shouldRefuseATimeoutThatIsNotAWholeNumberOfSecondsInRange() throws JsonProcessingException {
        for (String timeout : new String[] {"{\"taskname\": 2}", "\"60\"", "0", "-5", "3601", "1.5"}) {
            var parsed = ask("{\"taskname\": \"assistant\", \"utterance\": \"u\", \"timeout_seconds\": " + timeout + "}");

            assertThat(parsed.status()).as(timeout).isEqualTo(400);
            assertThat(parsed.error()).isEqualTo("timeout_seconds must be a whole number of seconds from 1 to 3600, was " + timeout
                    .replace(" ", ""));
        }
    }

    @Test
    void shouldUseTheDefaultWaitWithoutATimeout() throws JsonProcessingException {
        assertThat(ask("{\"taskname\": \"assistant\", \"utterance\": \"u\"}").value().answerWait())
                .isEqualTo(Duration.ofSeconds(30));
    }
}
