package io.tunestream.serving.it;

import io.tunestream.schemas.Answer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntPredicate;

/**
 * The accounts of a {@link Ledger}, without Kafka: what each request id should get, what it got and
 * when, and the {@link FaultReport} computed from them. Thread-safe (the ledger's poller records
 * answers while a load thread records sends).
 */
final class RequestBooks {

    /** What a request should get. */
    sealed interface Expected {
        /** A generated answer without an error. */
        record Answered() implements Expected {
            @Override
            public String toString() {
                return "an answer";
            }
        }

        /** An error answer of this kind ({@code ErrorKind} name, so kinds added on other branches can be named). */
        record ErrorOf(String kind) implements Expected {
            @Override
            public String toString() {
                return "an error answer " + kind;
            }
        }

        /** An error answer of any kind. */
        record AnyError() implements Expected {
            @Override
            public String toString() {
                return "an error answer";
            }
        }

        /** A record on the dead-letter topic and no answer. */
        record DeadLettered() implements Expected {
            @Override
            public String toString() {
                return "a dead letter";
            }
        }

        /** A record on the dead-letter topic whose reason contains {@code reasonPart}, and no answer. */
        record DeadLetteredBecause(String reasonPart) implements Expected {
            @Override
            public String toString() {
                return "a dead letter saying '" + reasonPart + "'";
            }
        }
    }

    static final Expected ANSWERED = new Expected.Answered();
    static final Expected ANY_ERROR = new Expected.AnyError();
    static final Expected DEAD_LETTERED = new Expected.DeadLettered();

    static Expected errorOf(String kind) {
        return new Expected.ErrorOf(kind);
    }

    static Expected deadLetteredBecause(String reasonPart) {
        return new Expected.DeadLetteredBecause(reasonPart);
    }

    private record SentRequest(long sentNanos, Expected expected) {
    }

    private final Map<String, SentRequest> sent = new ConcurrentHashMap<>();
    private final Map<String, Integer> partitionOf = new ConcurrentHashMap<>();
    private final Map<String, String> sendFailures = new ConcurrentHashMap<>();
    private final Map<String, List<Answer>> answersById = new ConcurrentHashMap<>();
    private final Map<String, Long> firstAnswerNanos = new ConcurrentHashMap<>();
    private final Map<String, Integer> deadLettersById = new ConcurrentHashMap<>();
    private final Map<String, String> deadLetterReasons = new ConcurrentHashMap<>();
    private final List<String> pollFailures = new CopyOnWriteArrayList<>();

    /** {@code id} was handed to the producer at {@code nanos}; it should get {@code expected}. */
    void sent(String id, long nanos, Expected expected) {
        sent.put(id, new SentRequest(nanos, expected));
    }

    /** Changes what {@code id} should get, once the scenario knows (e.g. which rows shared a hung batch). */
    void expect(String id, Expected expected) {
        sent.computeIfPresent(id, (k, request) -> new SentRequest(request.sentNanos(), expected));
    }

    void acknowledged(String id, int partition) {
        partitionOf.put(id, partition);
    }

    /** The producer could not send {@code id}: it counts as never sent. */
    void sendFailed(String id, String reason) {
        sendFailures.put(id, reason);
    }

    /** A committed answer to {@code id}, received at {@code nanos}. */
    void answered(String id, Answer answer, long nanos) {
        answersById.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(answer);
        firstAnswerNanos.putIfAbsent(id, nanos);
    }

    void deadLettered(String id) {
        deadLettered(id, "");
    }

    /** A dead letter for {@code id} with {@code reason} (its reason header; empty when it has none). */
    void deadLettered(String id, String reason) {
        deadLettersById.merge(id, 1, Integer::sum);
        deadLetterReasons.putIfAbsent(id, reason);
    }

    void pollFailed(String reason) {
        pollFailures.add(reason);
    }

    /** The partition of {@code requests} that {@code id} went to, once acknowledged. */
    Optional<Integer> partitionOf(String id) {
        return Optional.ofNullable(partitionOf.get(id));
    }

    /** Whether every request sent so far has an answer or a dead letter. */
    boolean settled() {
        return sent.keySet().stream().filter(id -> !sendFailures.containsKey(id))
                .allMatch(id -> answersById.containsKey(id) || deadLettersById.containsKey(id));
    }

    /** Whether a request sent at or after {@code markNanos} to a partition {@code partitions} accepts has an answer. */
    boolean answeredSince(long markNanos, IntPredicate partitions) {
        return sent.entrySet().stream()
                .filter(e -> e.getValue().sentNanos() >= markNanos)
                .filter(e -> partitionOf.containsKey(e.getKey()) && partitions.test(partitionOf.get(e.getKey())))
                .anyMatch(e -> firstAnswerNanos.containsKey(e.getKey()));
    }

    /**
     * The figures of the table.
     *
     * @param faultEndNanos   when the fault ended (or the kill happened); empty: no recovery column
     * @param partitionFilter the request partitions the fault hit (recovery is measured on those)
     */
    FaultReport report(String scenario, Optional<Long> faultEndNanos, IntPredicate partitionFilter) {
        int answered = 0;
        int deadLettered = 0;
        int lost = 0;
        int duplicated = 0;
        var errors = new TreeMap<String, Integer>();
        var unexpected = new ArrayList<String>();
        var latencies = new ArrayList<Double>();
        var lostIds = new ArrayList<String>();
        var duplicatedIds = new ArrayList<String>();
        for (var entry : new TreeMap<>(sent).entrySet()) {
            String id = entry.getKey();
            if (sendFailures.containsKey(id)) {
                continue;
            }
            List<Answer> got = answersById.getOrDefault(id, List.of());
            int letters = deadLettersById.getOrDefault(id, 0);
            if (got.size() > 1 || letters > 1 || (!got.isEmpty() && letters > 0)) {
                duplicated++;
                duplicatedIds.add(id + " (" + got.size() + " answers, " + letters + " dead letters)");
            }
            String outcome;
            if (!got.isEmpty()) {
                Answer first = got.get(0);
                latencies.add((firstAnswerNanos.get(id) - entry.getValue().sentNanos()) / 1e6);
                if (first.getError() == null) {
                    answered++;
                    outcome = "an answer";
                } else {
                    String kind = first.getError().getKind().name();
                    errors.merge(kind, 1, Integer::sum);
                    outcome = "an error answer " + kind + " (" + first.getError().getMessage() + ")";
                }
            } else if (letters > 0) {
                deadLettered++;
                String reason = deadLetterReasons.getOrDefault(id, "");
                outcome = reason.isEmpty() ? "a dead letter" : "a dead letter (" + reason + ")";
            } else {
                lost++;
                lostIds.add(id);
                outcome = "nothing";
            }
            if (got.size() + letters > 1) {
                outcome += " plus " + (got.size() + letters - 1) + " more";
            }
            if (!matches(entry.getValue().expected(), got, letters, deadLetterReasons.getOrDefault(id, ""))) {
                unexpected.add(id + ": expected " + entry.getValue().expected() + ", got " + outcome);
            }
        }
        Optional<Duration> recovery = faultEndNanos.flatMap(end -> sent.entrySet().stream()
                .filter(e -> e.getValue().sentNanos() >= end)
                .filter(e -> partitionOf.containsKey(e.getKey()) && partitionFilter.test(partitionOf.get(e.getKey())))
                .map(e -> firstAnswerNanos.get(e.getKey()))
                .filter(Objects::nonNull)
                .min(Long::compare)
                .map(first -> Duration.ofNanos(first - end)));
        int sentCount = (int) sent.keySet().stream().filter(id -> !sendFailures.containsKey(id)).count();
        return new FaultReport(scenario, sentCount, answered, errors, deadLettered, lost, duplicated, recovery,
                percentile(latencies, 0.99), List.copyOf(unexpected), head(lostIds), head(duplicatedIds),
                Map.copyOf(new HashMap<>(sendFailures)), List.copyOf(pollFailures));
    }

    private static boolean matches(Expected expected, List<Answer> got, int letters, String deadLetterReason) {
        if (got.size() + letters != 1) {
            return false;
        }
        if (expected instanceof Expected.DeadLettered) {
            return letters == 1;
        }
        if (expected instanceof Expected.DeadLetteredBecause because) {
            return letters == 1 && deadLetterReason.contains(because.reasonPart());
        }
        if (got.size() != 1) {
            return false;
        }
        var error = got.get(0).getError();
        if (expected instanceof Expected.ErrorOf of) {
            return error != null && error.getKind().name().equals(of.kind());
        }
        return expected instanceof Expected.AnyError ? error != null : error == null;
    }

    private static List<String> head(List<String> ids) {
        return List.copyOf(ids.subList(0, Math.min(20, ids.size())));
    }

    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        var sorted = values.stream().sorted().toList();
        return sorted.get(Math.max(0, (int) Math.ceil(p * sorted.size()) - 1));
    }

}
