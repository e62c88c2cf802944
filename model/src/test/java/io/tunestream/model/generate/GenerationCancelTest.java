package io.tunestream.model.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.model.TestModels;
import io.tunestream.model.onnx.DecoderModel;
import io.tunestream.model.onnx.RunControl;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.model.onnx.StepInput;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.tokenize.HuggingFaceTextTokenizer;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** ONNX Runtime's terminate flag, set from another thread, stops a long generation of demo-gpt2 on one core. */
class GenerationCancelTest {

    private static DecoderModel model;
    private static HuggingFaceTextTokenizer tokenizer;
    private static final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @BeforeAll
    static void load() {
        model = DecoderModel.load(TestModels.model("demo-gpt2"), RuntimeConfig.cpu(1));
        tokenizer = HuggingFaceTextTokenizer.load(TestModels.model("demo-gpt2"));
    }

    @AfterAll
    static void close() {
        timer.shutdownNow();
        model.close();
        tokenizer.close();
    }

    @Test
    void shouldFailASessionCallInProgressWhenTheTerminateFlagIsSet() {
        int batch = 48;
        int length = 255;
        int hidden = model.config().hiddenSize();
        long[] mask = new long[batch * length];
        long[] positions = new long[batch * length];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = 1;
            positions[i] = i % length;
        }
        var input = new StepInput(batch, length, new float[batch * length * hidden], mask, positions);
        long uncancelled = System.nanoTime();
        model.forward(input, null).cache().close();
        long fullMillis = (System.nanoTime() - uncancelled) / 1_000_000;
        assertThat(fullMillis).as("the prefill must be long enough to stop half way").isGreaterThan(200);

        try (RunControl control = RunControl.create()) {
            timer.schedule(control::terminate, fullMillis / 10, TimeUnit.MILLISECONDS);
            long start = System.nanoTime();
            assertThatThrownBy(() -> model.forward(input, null, control))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("terminate");
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(fullMillis / 2);
        }
    }

    @Test
    void shouldAnswerCancelledForEveryUnfinishedRowWhenTerminatedDuringGeneration() throws Exception {
        var template = new TaskTemplate("plain", "{prompt}{answer}", List.of("prompt", "answer"), false, "answer", null,
                List.of(), 0);
        var options = new GenerationOptions(200, 200, 0f, 0, 1f, 1f, List.of(), OptionalLong.empty());
        List<GenerationRequest> requests = Collections.nCopies(16, new GenerationRequest("r", template,
                Map.of("prompt", "Kamiro lives in Talenburg. Where does Kamiro live?"), Optional.empty(), options,
                false));
        var generator = Generator.withDefaults(model, tokenizer);
        try (RunControl control = RunControl.create()) {
            CompletableFuture<List<GenerationResult>> results =
                    CompletableFuture.supplyAsync(() -> generator.generate(requests, control));
            Thread.sleep(200);
            assertThat(results).as("200 tokens for 16 rows take longer than 200 ms").isNotDone();
            long terminated = System.nanoTime();
            control.terminate();

            List<GenerationResult> done = results.get(5, TimeUnit.SECONDS);
            assertThat((System.nanoTime() - terminated) / 1_000_000).isLessThan(1000);
            assertThat(done).extracting(GenerationResult::errorKind).containsOnly(RowError.CANCELLED);
            assertThat(done).extracting(GenerationResult::error).containsOnly("generation cancelled");
        }
    }
}
