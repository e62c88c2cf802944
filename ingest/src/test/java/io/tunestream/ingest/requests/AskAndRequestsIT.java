package io.tunestream.ingest.requests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.ingest.CliRun;
import io.tunestream.ingest.ExitCodes;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code ask} and {@code requests} against a fake serving app that answers from a table. */
@ExtendWith(LocalPlatformExtension.class)
class AskAndRequestsIT {

    private static final Path HOME = Path.of(System.getProperty("tunestream.home"));
    private static final String TEMPLATES = HOME.resolve("data/templates.yaml").toString();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Answer text by context + question; questions not in it get " wrong", "boom" gets an error. */
    private static final Map<String, String> ANSWERS = new ConcurrentHashMap<>();
    private static FakeAnswerer answerer;

    @BeforeAll
    static void startAnswerer(PlatformEndpoints platform) {
        answerer = new FakeAnswerer(platform, request -> {
            String question = request.getFields().get("question");
            if ("boom".equals(question)) {
                return FakeAnswerer.answerTo(request).setFinishReason(FinishReason.ERROR)
                        .setError(new AnswerError(ErrorKind.GENERATION_FAILED, "task 'squad': out of memory")).build();
            }
            String text = ANSWERS.getOrDefault(request.getFields().get("context") + question, " wrong");
            return FakeAnswerer.answerTo(request).setText(text).setAdapterVersion(3).setCompletionTokens(2)
                    .setFinishReason(FinishReason.EOS).build();
        });
    }

    @AfterAll
    static void stopAnswerer() throws InterruptedException {
        answerer.close();
    }

    @Test
    void shouldPrintTheAnswerToOneRequest(PlatformEndpoints platform) {
        ANSWERS.put("Ann lives in Rome.Where does Ann live?", " Rome");

        CliRun run = CliRun.run(platform, "ask", "--task", "squad", "--field", "context=Ann lives in Rome.",
                "--field", "question=Where does Ann live?", "--max-new-tokens", "4", "--templates", TEMPLATES,
                "--request-id", "ask-rome", "--timeout", "PT30S");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo(" Rome" + System.lineSeparator());
        assertThat(run.err()).contains("request ask-rome sent", "task squad, adapter version 3, 2 tokens, finished by EOS");
    }

    @Test
    void shouldPrintTheErrorOfAnAnswerThatHasOne(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "ask", "--task", "squad", "--field", "context=c", "--field", "question=boom",
                "--templates", TEMPLATES, "--timeout", "PT30S");

        assertThat(run.exitCode()).isEqualTo(ExitCodes.FAILED);
        assertThat(run.out()).isEmpty();
        assertThat(run.err()).endsWith("error GENERATION_FAILED: task 'squad': out of memory" + System.lineSeparator());
    }

    @Test
    void shouldSendNothingWhenTheRequestIdIsOverTheLimit(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "ask", "--task", "squad", "--field", "context=c", "--field", "question=q",
                "--request-id", "i".repeat(257), "--templates", TEMPLATES);

        assertThat(run.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.err()).isEqualTo("not sent: request id '" + "i".repeat(32) + "...(257 chars)' has 257 "
                + "characters, more than the limit of 256" + System.lineSeparator());
    }

    @Test
    void shouldSendNothingForAFieldTheTemplateDoesNotUse(PlatformEndpoints platform) {
        CliRun run = CliRun.run(platform, "ask", "--task", "squad", "--field", "context=c", "--field", "question=q",
                "--field", "title=t", "--templates", TEMPLATES);

        assertThat(run.exitCode()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.err()).isEqualTo("not sent: task 'squad': field(s) [title] not used by the template (fields: "
                + "context, question, answer)" + System.lineSeparator());
    }

    @Test
    void shouldWriteAnswersInInputOrderAndScoreThem(PlatformEndpoints platform, @TempDir Path dir) throws Exception {
        List<String> lines = new ArrayList<>(Files.readAllLines(HOME.resolve("data/squad/validation.jsonl")).subList(0, 20));
        for (int i = 0; i < 10; i++) {
            JsonNode line = JSON.readTree(lines.get(i));
            ANSWERS.put(line.get("context").asText() + line.get("question").asText(), line.get("answer").asText());
        }
        lines.add("{\"taskname\": \"squad\", \"context\": \"c\"}");
        Path input = Files.write(dir.resolve("requests.jsonl"), lines);
        Path output = dir.resolve("answers.jsonl");

        CliRun run = CliRun.run(platform, "requests", input.toString(), "--output", output.toString(),
                "--templates", TEMPLATES, "--max-new-tokens", "8", "--timeout", "PT60S");

        assertThat(run.exitCode()).as(run.err()).isEqualTo(ExitCodes.INPUT_REJECTED);
        assertThat(run.out()).isEqualTo("sent 20 requests, answered 20 (0 with an error), no answer 0, rejected 1; "
                + "answers written to " + output + System.lineSeparator()
                + "exact match 0.5000, F1 0.5000 over 20 line(s) with an expected answer" + System.lineSeparator());
        assertThat(run.err()).contains(input + ":21: task 'squad': missing field(s) [question]");
        List<JsonNode> written = new ArrayList<>();
        for (String line : Files.readAllLines(output)) {
            written.add(JSON.readTree(line));
        }
        assertThat(written).extracting(n -> n.get("line").asInt())
                .containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21);
        JsonNode first = JSON.readTree(lines.get(0));
        assertThat(written.get(0).get("answer").asText()).isEqualTo(first.get("answer").asText());
        assertThat(written.get(0).get("exact_match").asDouble()).isEqualTo(1.0);
        assertThat(written.get(10).get("answer").asText()).isEqualTo(" wrong");
        assertThat(written.get(10).get("f1").asDouble()).isEqualTo(0.0);
        assertThat(written.get(20).get("error").get("kind").asText()).isEqualTo("REJECTED");
    }
}
