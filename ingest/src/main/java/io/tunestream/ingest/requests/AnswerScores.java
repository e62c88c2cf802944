package io.tunestream.ingest.requests;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * SQuAD's answer metrics: exact match and token F1 after the official normalisation (lower case,
 * punctuation removed, articles a/an/the removed, whitespace collapsed).
 */
public final class AnswerScores {

    private static final Pattern PUNCTUATION = Pattern.compile("\\p{Punct}");
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b");

    private AnswerScores() {
    }

    /** SQuAD's normalize_answer. */
    public static String normalize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        String noPunctuation = PUNCTUATION.matcher(lower).replaceAll("");
        String noArticles = ARTICLES.matcher(noPunctuation).replaceAll(" ");
        return String.join(" ", tokens(noArticles));
    }

    /** 1 when the normalised texts are equal, else 0. */
    public static double exactMatch(String prediction, String reference) {
        return normalize(prediction).equals(normalize(reference)) ? 1.0 : 0.0;
    }

    /** Harmonic mean of token precision and recall over the normalised texts (1 when both are empty). */
    public static double f1(String prediction, String reference) {
        List<String> predicted = tokens(normalize(prediction));
        List<String> expected = tokens(normalize(reference));
        if (predicted.isEmpty() || expected.isEmpty()) {
            return predicted.equals(expected) ? 1.0 : 0.0;
        }
        Map<String, Integer> counts = new HashMap<>();
        expected.forEach(t -> counts.merge(t, 1, Integer::sum));
        int common = 0;
        for (String token : predicted) {
            Integer left = counts.get(token);
            if (left != null && left > 0) {
                common++;
                counts.put(token, left - 1);
            }
        }
        if (common == 0) {
            return 0.0;
        }
        double precision = (double) common / predicted.size();
        double recall = (double) common / expected.size();
        return 2 * precision * recall / (precision + recall);
    }

    private static List<String> tokens(String text) {
        String trimmed = text.trim();
        return trimmed.isEmpty() ? List.of() : Arrays.asList(trimmed.split("\\s+"));
    }
}
