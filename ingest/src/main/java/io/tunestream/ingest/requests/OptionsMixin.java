package io.tunestream.ingest.requests;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunestream.schemas.GenerationOptions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Generation options on the command line, and their JSON form in request files. */
public final class OptionsMixin {

    @Option(names = "--max-new-tokens", paramLabel = "N", description = "Largest number of tokens to generate.")
    Integer maxNewTokens;

    @Option(names = "--min-new-tokens", paramLabel = "N", description = "Tokens generated before EOS and stop strings count.")
    Integer minNewTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "0 (default) is greedy; above 0 samples.")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "Sample from the K most likely tokens; 0 is off.")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "Nucleus sampling threshold; 1 is off.")
    Float topP;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "CTRL repetition penalty; 1 is off.")
    Float repetitionPenalty;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop string (repeatable).")
    List<String> stop;

    @Option(names = "--seed", paramLabel = "SEED", description = "Sampler seed.")
    Long seed;

    /** The options given on the command line over the schema's defaults. */
    public GenerationOptions options() {
        return apply(GenerationOptions.newBuilder().build());
    }

    /** {@code base} with the options given on the command line. */
    GenerationOptions apply(GenerationOptions base) {
        GenerationOptions.Builder builder = GenerationOptions.newBuilder(base);
        if (maxNewTokens != null) {
            builder.setMaxNewTokens(maxNewTokens);
        }
        if (minNewTokens != null) {
            builder.setMinNewTokens(minNewTokens);
        }
        if (temperature != null) {
            builder.setTemperature(temperature);
        }
        if (topK != null) {
            builder.setTopK(topK);
        }
        if (topP != null) {
            builder.setTopP(topP);
        }
        if (repetitionPenalty != null) {
            builder.setRepetitionPenalty(repetitionPenalty);
        }
        if (stop != null) {
            builder.setStop(List.copyOf(stop));
        }
        if (seed != null) {
            builder.setSeed(seed);
        }
        return builder.build();
    }

    /**
     * {@code base} with the options of a request line's {@code "options"} object, whose keys are
     * snake_case or camelCase ({@code max_new_tokens} or {@code maxNewTokens}).
     *
     * @throws IllegalArgumentException naming the key when it is unknown or has the wrong type
     */
    public static GenerationOptions fromJson(JsonNode json, GenerationOptions base) {
        if (!json.isObject()) {
            throw new IllegalArgumentException("'options' must be an object, was " + json);
        }
        GenerationOptions.Builder builder = GenerationOptions.newBuilder(base);
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            JsonNode value = entry.getValue();
            String key = entry.getKey().replace("_", "").toLowerCase();
            switch (key) {
                case "maxnewtokens" -> builder.setMaxNewTokens(integer(entry.getKey(), value));
                case "minnewtokens" -> builder.setMinNewTokens(integer(entry.getKey(), value));
                case "temperature" -> builder.setTemperature((float) number(entry.getKey(), value));
                case "topk" -> builder.setTopK(integer(entry.getKey(), value));
                case "topp" -> builder.setTopP((float) number(entry.getKey(), value));
                case "repetitionpenalty" -> builder.setRepetitionPenalty((float) number(entry.getKey(), value));
                case "seed" -> builder.setSeed(value.isNull() ? null : (long) number(entry.getKey(), value));
                case "stop" -> {
                    List<String> stops = new ArrayList<>();
                    if (value.isTextual()) {
                        stops.add(value.asText());
                    } else if (value.isArray()) {
                        value.forEach(s -> stops.add(s.asText()));
                    } else {
                        throw new IllegalArgumentException("option 'stop' must be a string or a list of strings");
                    }
                    builder.setStop(stops);
                }
                default -> throw new IllegalArgumentException("unknown option '" + entry.getKey() + "' (known: "
                        + "max_new_tokens, min_new_tokens, temperature, top_k, top_p, repetition_penalty, stop, seed)");
            }
        }
        return builder.build();
    }

    private static int integer(String key, JsonNode value) {
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            throw new IllegalArgumentException("option '" + key + "' must be an integer, was " + value);
        }
        return value.intValue();
    }

    private static double number(String key, JsonNode value) {
        if (!value.isNumber()) {
            throw new IllegalArgumentException("option '" + key + "' must be a number, was " + value);
        }
        return value.doubleValue();
    }
}
