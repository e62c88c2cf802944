package io.tunestream.model.tune;

import io.tunestream.model.generate.GenerationOptions;
import io.tunestream.model.generate.GenerationRequest;
import io.tunestream.model.generate.GenerationResult;
import io.tunestream.model.generate.Generator;
import io.tunestream.model.prompt.DeepPromptTable;
import io.tunestream.model.prompt.TaskTemplate;
import io.tunestream.model.prompt.VirtualTokenTable;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Greedy exact match of a task's answers: each example's prompt (without its answer) is completed
 * greedily up to the end-of-sequence token, a newline, or {@code maxNewTokens}; the completion matches
 * when it equals the answer after trimming and collapsing whitespace.
 *
 * @param correct  matching completions
 * @param total    examples
 * @param failures generation errors (counted as wrong), with their messages
 * @param completions each example's completion in order (empty for a generation error), to show what missed
 */
public record ExactMatch(int correct, int total, List<String> failures, List<String> completions) {

    public ExactMatch {
        failures = List.copyOf(failures);
        completions = List.copyOf(completions);
    }

    public double score() {
        return total == 0 ? 0 : (double) correct / total;
    }

    /**
     * Evaluates {@code examples} (field maps with the answer field) with {@code table}, or with the
     * template's virtual tokens removed when {@code table} is empty (zero-shot).
     */
    public static ExactMatch evaluate(Generator generator, TaskTemplate template, List<Map<String, String>> examples,
                                      Optional<VirtualTokenTable> table, int maxNewTokens, int batchSize) {
        return evaluate(generator, template, examples, table, Optional.empty(), maxNewTokens, batchSize);
    }

    /** Evaluates {@code examples} with the deep prompt {@code prefix} (the template's virtual tokens removed). */
    public static ExactMatch evaluate(Generator generator, TaskTemplate template, List<Map<String, String>> examples,
                                      DeepPromptTable prefix, int maxNewTokens, int batchSize) {
        return evaluate(generator, template, examples, Optional.empty(), Optional.of(prefix), maxNewTokens, batchSize);
    }

    private static ExactMatch evaluate(Generator generator, TaskTemplate template, List<Map<String, String>> examples,
                                       Optional<VirtualTokenTable> table, Optional<DeepPromptTable> prefix,
                                       int maxNewTokens, int batchSize) {
        TaskTemplate used = table.isPresent() ? template : template.withoutVirtualTokens();
        GenerationOptions options = GenerationOptions.greedy(maxNewTokens).withStopStrings(List.of("\n"));
        int correct = 0;
        List<String> failures = new ArrayList<>();
        List<String> completions = new ArrayList<>();
        for (int from = 0; from < examples.size(); from += batchSize) {
            List<Map<String, String>> chunk = examples.subList(from, Math.min(from + batchSize, examples.size()));
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < chunk.size(); i++) {
                requests.add(new GenerationRequest(Integer.toString(from + i), used, chunk.get(i), table, options, false,
                        prefix));
            }
            List<GenerationResult> results = generator.generate(requests);
            for (int i = 0; i < chunk.size(); i++) {
                GenerationResult r = results.get(i);
                completions.add(r.isError() ? "" : r.text());
                if (r.isError()) {
                    failures.add(r.error());
                } else if (normalize(r.text()).equals(normalize(chunk.get(i).get(template.answerField())))) {
                    correct++;
                }
            }
        }
        return new ExactMatch(correct, examples.size(), failures, completions);
    }

    /** Trimmed, runs of whitespace as one space. */
    static String normalize(String text) {
        return text.strip().replaceAll("\\s+", " ");
    }
}
