package io.tunestream.ingest.requests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.ingest.template.TemplateFile;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class AskIngestionTest {

    private static final TemplateCatalog TEMPLATES = TemplateCatalog.of(TemplateFile.read(
            Path.of(System.getProperty("tunestream.home", "..")).resolve("data/templates.yaml"), 1L));
    private static final GenerationOptions OPTIONS = GenerationOptions.newBuilder().build();

    private static TaskFields.Result fields(String task, Map<String, String> values) {
        return new TaskFields(TEMPLATES, false, Set.of()).check(task, values);
    }

    @Test
    void shouldBuildTheRequestOfCheckedFields() {
        AskIngestion.Checked checked = AskIngestion.check(fields("assistant", Map.of("utterance", "play jazz")),
                OPTIONS, "r-1", 3, 42L);

        assertThat(checked.ok()).isTrue();
        InferenceRequest request = checked.request();
        assertThat(request.getRequestId()).isEqualTo("r-1");
        assertThat(request.getTask()).isEqualTo("assistant");
        assertThat(request.getFields()).isEqualTo(Map.of("utterance", "play jazz"));
        assertThat(request.getAdapterVersion()).isEqualTo(3);
        assertThat(request.getCreatedAtMillis()).isEqualTo(42L);
    }

    @Test
    void shouldGiveARequestWithoutAnIdARandomOne() {
        String first = AskIngestion.check(fields("assistant", Map.of("utterance", "u")), OPTIONS, null, null, 0L)
                .request().getRequestId();
        String second = AskIngestion.check(fields("assistant", Map.of("utterance", "u")), OPTIONS, null, null, 0L)
                .request().getRequestId();

        assertThat(first).hasSize(36).isNotEqualTo(second);
    }

    @Test
    void shouldPassOnTheProblemOfTheFieldsAndOfTheSizeLimits() {
        AskIngestion.Checked unknownTask = AskIngestion.check(fields("asistant", Map.of("utterance", "u")), OPTIONS,
                "r", null, 0L);
        AskIngestion.Checked longId = AskIngestion.check(fields("assistant", Map.of("utterance", "u")), OPTIONS,
                "i".repeat(257), null, 0L);

        assertThat(unknownTask.problem()).startsWith("unknown task 'asistant' (known tasks: assistant, squad");
        assertThat(longId.ok()).isFalse();
        assertThat(longId.problem()).contains("257 characters, more than the limit of 256");
    }

    @Test
    void shouldFailTheAnswerAndForgetTheIdWhenTheSendFails() {
        MockProducer<String, SpecificRecord> producer = new MockProducer<>(false, null, new StringSerializer(),
                (topic, value) -> new byte[0]);
        Set<String> forgotten = new HashSet<>();
        AnswerWaits answers = new AnswerWaits() {
            @Override
            public CompletableFuture<Answer> expect(String requestId) {
                return new CompletableFuture<>();
            }

            @Override
            public void forget(String requestId) {
                forgotten.add(requestId);
            }
        };
        InferenceRequest request = AskIngestion.check(fields("assistant", Map.of("utterance", "u")), OPTIONS, "r-9",
                null, 0L).request();

        CompletableFuture<Answer> answer = AskIngestion.send(producer, answers, request);
        producer.errorNext(new org.apache.kafka.common.errors.TimeoutException("no broker"));

        assertThatThrownBy(answer::get).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(AskIngestion.NotSentException.class)
                .cause().hasMessage("request r-9 could not be sent to requests: "
                        + "org.apache.kafka.common.errors.TimeoutException: no broker");
        assertThat(forgotten).containsExactly("r-9");
    }
}
