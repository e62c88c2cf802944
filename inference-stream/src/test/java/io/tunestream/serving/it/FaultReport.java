package io.tunestream.serving.it;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * One row of the fault table, computed by {@link Ledger#report} from what was sent and what came back.
 *
 * @param sent           requests sent (acknowledged by the broker or still in flight; send failures excluded)
 * @param answered       request ids whose committed answer has no error
 * @param errorsByKind   request ids whose committed answer is an error, by {@code ErrorKind}
 * @param deadLettered   request ids on the dead-letter topic and without an answer
 * @param lost           request ids with neither an answer nor a dead letter (must be 0)
 * @param duplicated     request ids with more than one committed answer or dead letter (must be 0)
 * @param recovery       from the end of the fault (or the kill) to the first answer for a request sent after it
 * @param p99Millis      99th percentile of send-to-answer-received latency over answered and errored ids
 * @param unexpected     ids whose outcome differs from what the scenario expects of them, with both
 * @param lostIds        the first lost ids
 * @param duplicatedIds  the first duplicated ids
 * @param sendFailures   ids the producer failed to send, with the error (not counted as sent)
 * @param pollFailures   errors while reading answers or dead letters
 */
record FaultReport(String scenario, int sent, int answered, Map<String, Integer> errorsByKind, int deadLettered, int lost,
                   int duplicated, Optional<Duration> recovery, double p99Millis, List<String> unexpected,
                   List<String> lostIds, List<String> duplicatedIds, Map<String, String> sendFailures,
                   List<String> pollFailures) {

    static final String HEADER = "| scenario | sent | answered | error answers by kind | dead-lettered | lost | duplicated "
            + "| recovery | p99 latency |\n| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |";

    /** The Markdown row of BENCHMARKS.md. */
    String row() {
        String errors = errorsByKind.isEmpty() ? "0" : errorsByKind.entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
        return String.format("| %s | %d | %d | %s | %d | %d | %d | %s | %s |", scenario, sent, answered, errors,
                deadLettered, lost, duplicated,
                recovery.map(d -> String.format("%.1f s", d.toMillis() / 1000.0)).orElse("n/a"),
                Double.isNaN(p99Millis) ? "n/a" : String.format("%.0f ms", p99Millis));
    }

    /** Everything a failed assertion should show. */
    String details() {
        return row() + "\nunexpected outcomes (" + unexpected.size() + "): "
                + unexpected.subList(0, Math.min(20, unexpected.size())) + "\nlost: " + lostIds + "\nduplicated: "
                + duplicatedIds + "\nsend failures: " + sendFailures.size() + " " + sendFailures.values().stream()
                .distinct().limit(3).toList() + "\npoll failures: " + pollFailures.stream().distinct().limit(3).toList();
    }
}
