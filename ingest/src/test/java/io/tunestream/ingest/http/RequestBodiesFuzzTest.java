package io.tunestream.ingest.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonProcessingException;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.Verdict;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz targets of the ingest HTTP server's body parsing ({@link RequestBodies}): any body gives the
 * record to send, a client error (4xx with a reason) or malformed JSON ({@link
 * JsonProcessingException}, answered 400); nothing else escapes to become a 500. Checked against the
 * shipped templates ({@code data/templates.yaml}). Seeds ({@code RequestBodiesFuzzTestInputs/}) are
 * the bodies of {@code IngestHttpServerIT} and its README examples.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class RequestBodiesFuzzTest {

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-29T23:00:00Z"), ZoneOffset.UTC);
    private static final Duration DEFAULT_WAIT = Duration.ofSeconds(30);
    private static TemplateCatalog templates;

    @BeforeAll
    static void readTemplates() {
        templates = TemplateCatalog.of(TemplateFile.read(
                Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));
    }

    @FuzzTest(maxDuration = "3m")
    void askBodyGivesARequestOrAClientError(byte[] input) {
        RequestBodies.Parsed<RequestBodies.Ask> parsed;
        try {
            parsed = RequestBodies.ask(new String(input, StandardCharsets.UTF_8), () -> templates, CLOCK, DEFAULT_WAIT);
        } catch (JsonProcessingException e) {
            return;
        }
        if (!parsed.ok()) {
            assertThat(parsed.status()).isBetween(400, 499);
            assertThat(parsed.error()).isNotBlank();
            return;
        }
        InferenceRequest request = parsed.value().request();
        assertThat(templates.find(request.getTask())).isPresent();
        assertThat(request.getRequestId()).isNotNull();
        Duration wait = parsed.value().answerWait();
        assertThat(wait).as("the wait for the answer").isPositive();
        // the server waits until now + wait: it must be a time
        assertThat(CLOCK.instant().plus(wait)).isAfter(CLOCK.instant());
    }

    @FuzzTest(maxDuration = "3m")
    void feedbackBodyGivesFeedbackOrAClientError(byte[] input) {
        RequestBodies.Parsed<Feedback> parsed;
        try {
            parsed = RequestBodies.feedback(new String(input, StandardCharsets.UTF_8), () -> templates, CLOCK);
        } catch (JsonProcessingException e) {
            return;
        }
        if (!parsed.ok()) {
            assertThat(parsed.status()).isBetween(400, 499);
            assertThat(parsed.error()).isNotBlank();
            return;
        }
        Feedback feedback = parsed.value();
        assertThat(feedback.getRequestId()).isNotEmpty();
        assertThat(templates.find(feedback.getTask())).isPresent();
        assertThat(feedback.getCorrection() != null).isEqualTo(feedback.getVerdict() == Verdict.CORRECTED);
    }
}
