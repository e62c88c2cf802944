package io.tunestream.serving.topology;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.prompt.PromptMode;
import io.tunestream.model.prompt.PromptTooLongException;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.serving.batch.ServingModelInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz target of serving's request path before generation: a task template as it may sit on the
 * {@code task-templates} topic (unchecked) and a request with any fields and options go through
 * {@link RequestValidator}; what it accepts is turned into the model's template and prompt as the
 * model runtime does (tiny-gpt2's tokenizer). The outcome is an error answer of a known kind, a
 * typed rejection ({@link IllegalArgumentException} / {@link PromptTooLongException}, which the
 * generator turns into an error answer) or a prompt that fits; nothing else may escape.
 *
 * <p>An input is UTF-8 text, parts separated by a NUL byte, list items by 0x01 (see
 * {@code RequestPromptFuzzTestInputs/}): task, prompt_template, prompt_template_fields, answer_field,
 * truncate_field, virtual_token_splits, total_virtual_tokens, max_seq_length, allow_base_model,
 * request fields ({@code name=value} items), options (maxNewTokens, minNewTokens, temperature, topK,
 * topP, repetitionPenalty), record key. Missing parts are empty; unparsable numbers are 0.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class RequestPromptFuzzTest {

    private static final ServingModelInfo TINY_GPT2 = new ServingModelInfo("fingerprint", 64, 256);
    private static final int MAX_PROMPT_CHARS = 64 * 1024;

    private static HuggingFaceTextTokenizer tokenizer;

    @BeforeAll
    static void loadTokenizer() {
        tokenizer = HuggingFaceTextTokenizer.load(
                Path.of(System.getProperty("tunestream.home", "..")).resolve("models/tiny-gpt2"));
    }

    @AfterAll
    static void closeTokenizer() {
        tokenizer.close();
    }

    @FuzzTest(maxDuration = "3m")
    void requestIsAnsweredRejectedOrPrompted(byte[] input) {
        String[] parts = parts(input);
        String task = parts[0];
        TaskTemplate template = TaskTemplate.newBuilder().setTask(task).setPromptTemplate(parts[1])
                .setPromptTemplateFields(items(parts[2])).setAnswerField(orNull(parts[3]))
                .setTruncateField(orNull(parts[4])).setVirtualTokenSplits(items(parts[5]).stream()
                        .map(RequestPromptFuzzTest::integer).toList())
                .setTotalVirtualTokens(integer(parts[6])).setMaxSeqLength(integer(parts[7]))
                .setAllowBaseModel(parts[8].equals("true")).build();
        Map<String, String> fields = new LinkedHashMap<>();
        for (String item : items(parts[9])) {
            int eq = item.indexOf('=');
            fields.put(eq < 0 ? item : item.substring(0, eq), eq < 0 ? "" : item.substring(eq + 1));
        }
        List<String> o = items(parts[10]);
        GenerationOptions options = GenerationOptions.newBuilder()
                .setMaxNewTokens(o.size() > 0 ? integer(o.get(0)) : 32)
                .setMinNewTokens(o.size() > 1 ? integer(o.get(1)) : 0)
                .setTemperature(o.size() > 2 ? decimal(o.get(2)) : 0f)
                .setTopK(o.size() > 3 ? integer(o.get(3)) : 0)
                .setTopP(o.size() > 4 ? decimal(o.get(4)) : 1f)
                .setRepetitionPenalty(o.size() > 5 ? decimal(o.get(5)) : 1f).build();
        String id = parts[11].isEmpty() ? "r1" : parts[11];
        InferenceRequest request = InferenceRequest.newBuilder().setRequestId(id).setTask(task).setFields(fields)
                .setOptions(options).build();

        Optional<AnswerError> error = new RequestValidator(TINY_GPT2, MAX_PROMPT_CHARS)
                .check(id, request, Optional.of(template));
        if (error.isPresent()) {
            assertThat(error.get().getKind()).isIn(ErrorKind.INVALID_REQUEST, ErrorKind.PROMPT_TOO_LONG);
            assertThat(error.get().getMessage()).isNotBlank();
            return;
        }
        // what the validator accepts must leave room for a prompt, as it promises
        int maxSeq = Math.min(template.getMaxSeqLength(), TINY_GPT2.maxPositions());
        long room = (long) maxSeq - options.getMaxNewTokens() - template.getTotalVirtualTokens();
        assertThat(room).as("positions left for the prompt of an accepted request").isPositive();
        assertThat(options.getMaxNewTokens()).isPositive();

        io.tunestream.model.prompt.TaskTemplate modelTemplate;
        try {
            modelTemplate = new io.tunestream.model.prompt.TaskTemplate(template.getTask(),
                    template.getPromptTemplate(), template.getPromptTemplateFields(), template.getAnswerOnlyLoss(),
                    template.getAnswerField(), template.getTruncateField(), template.getVirtualTokenSplits(),
                    template.getTotalVirtualTokens());
            if (template.getAllowBaseModel()) {
                modelTemplate = modelTemplate.withoutVirtualTokens();
            }
        } catch (IllegalArgumentException e) {
            assertThat(e.getMessage()).as("a refused template names its task").contains("task");
            return;
        }
        int promptRoom = maxSeq - options.getMaxNewTokens();
        try {
            Prompt prompt = new PromptBuilder(tokenizer).build(modelTemplate, request.getFields(), PromptMode.INFERENCE,
                    promptRoom);
            assertThat(prompt.length()).isBetween(1, promptRoom);
        } catch (IllegalArgumentException e) { // PromptTooLongException among them
            assertThat(e.getMessage()).as("a refused prompt names its task").contains("task '" + task + "'");
        }
    }

    private static String[] parts(byte[] input) {
        String[] split = new String(input, StandardCharsets.UTF_8).split("\u0000", -1);
        String[] parts = new String[12];
        for (int i = 0; i < parts.length; i++) {
            parts[i] = i < split.length ? split[i] : "";
        }
        return parts;
    }

    private static List<String> items(String part) {
        return part.isEmpty() ? List.of() : new ArrayList<>(List.of(part.split("\u0001", -1)));
    }

    private static String orNull(String part) {
        return part.isEmpty() ? null : part;
    }

    private static int integer(String text) {
        try {
            return Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static float decimal(String text) {
        try {
            return Float.parseFloat(text.trim());
        } catch (NumberFormatException e) {
            return 0f;
        }
    }
}
