package io.tunestream.ingest.feedback;

import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.ingest.template.TemplateCatalog;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.Verdict;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * A verdict on an answer: checked (known task, a correction with {@code CORRECTED} only, the
 * request's fields against the template, the size limits) and sent to {@code feedback}. Shared by
 * {@code ingest feedback} and the HTTP endpoint {@code POST /feedback}.
 */
public final class FeedbackIngestion {

    /**
     * What a client says about an answer.
     *
     * @param correction     the right answer; required with {@code CORRECTED}, refused otherwise
     * @param fields         the request's fields (may be empty: then the trainer cannot make an example)
     * @param answerText     the answer judged (may be null)
     * @param adapterVersion the adapter version that produced it (may be null)
     */
    public record Judgement(String requestId, String task, Verdict verdict, String correction,
                            Map<String, String> fields, String answerText, Integer adapterVersion, String comment) {
        public Judgement {
            fields = Map.copyOf(fields);
            comment = comment == null ? "" : comment;
        }
    }

    /** The feedback to send, or why it is not sent (the client's to fix). */
    public record Checked(Feedback feedback, String problem) {
        public boolean ok() {
            return problem == null;
        }
    }

    private FeedbackIngestion() {
    }

    /** The feedback of {@code judgement}, checked against {@code templates}. */
    public static Checked check(TemplateCatalog templates, Judgement judgement, long nowMillis) {
        if (judgement.requestId() == null || judgement.requestId().isEmpty()
                || judgement.task() == null || judgement.task().isEmpty()) {
            return new Checked(null, "a request id and a task are required");
        }
        String task = judgement.task();
        if (templates.find(task).isEmpty()) {
            return new Checked(null, "unknown task '" + task + "' (known tasks: " + templates.knownTasks() + ")");
        }
        if (judgement.verdict() == null) {
            return new Checked(null, "a verdict is required (ACCEPTED, REJECTED or CORRECTED)");
        }
        boolean corrected = judgement.verdict() == Verdict.CORRECTED;
        if (corrected && judgement.correction() == null) {
            return new Checked(null, "verdict CORRECTED needs a correction");
        }
        if (!judgement.fields().isEmpty()) {
            TaskFields.Result checked = new TaskFields(templates, false, Set.of()).check(task, judgement.fields());
            if (!checked.ok()) {
                return new Checked(null, checked.problem());
            }
        }
        Feedback feedback = Feedback.newBuilder()
                .setRequestId(judgement.requestId())
                .setTask(task)
                .setVerdict(judgement.verdict())
                .setCorrection(corrected ? judgement.correction() : null)
                .setFields(judgement.fields())
                .setAnswerText(judgement.answerText())
                .setAdapterVersion(judgement.adapterVersion())
                .setComment(judgement.comment())
                .setCreatedAtMillis(nowMillis)
                .build();
        Optional<String> tooBig = RequestLimits.check(feedback);
        return tooBig.map(problem -> new Checked(null, problem)).orElseGet(() -> new Checked(feedback, null));
    }

    /** Sends {@code feedback} keyed by its request id; the future fails with the producer's error. */
    public static CompletableFuture<RecordMetadata> send(Producer<String, ? super Feedback> producer, Feedback feedback) {
        CompletableFuture<RecordMetadata> sent = new CompletableFuture<>();
        try {
            producer.send(new ProducerRecord<>(Topics.FEEDBACK.name(), feedback.getRequestId(), feedback),
                    (metadata, error) -> {
                        if (error != null) {
                            sent.completeExceptionally(error);
                        } else {
                            sent.complete(metadata);
                        }
                    });
        } catch (RuntimeException e) {
            sent.completeExceptionally(e);
        }
        return sent;
    }
}
