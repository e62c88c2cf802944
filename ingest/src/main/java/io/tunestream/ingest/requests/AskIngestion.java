package io.tunestream.ingest.requests;

import io.tunestream.ingest.jsonl.TaskFields;
import io.tunestream.schemas.Answer;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.RequestLimits;
import io.tunestream.schemas.Topics;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * One request and its answer: checked against its task's template and the size limits, sent to
 * {@code requests}, its answer awaited on {@code answers}. Shared by {@code ingest ask} and the
 * HTTP endpoint {@code POST /ask}.
 */
public final class AskIngestion {

    /** The request to send, or why it is not sent (the client's to fix). */
    public record Checked(InferenceRequest request, String problem) {
        public boolean ok() {
            return problem == null;
        }
    }

    /** The request could not be written to {@code requests}. */
    public static final class NotSentException extends RuntimeException {
        NotSentException(String requestId, Throwable cause) {
            super("request " + requestId + " could not be sent to " + Topics.REQUESTS.name() + ": " + cause, cause);
        }
    }

    private AskIngestion() {
    }

    /**
     * The request of checked task fields (their problem when they failed {@link TaskFields}).
     *
     * @param requestId null for a random UUID
     */
    public static Checked check(TaskFields.Result fields, GenerationOptions options, String requestId,
                                Integer adapterVersion, long nowMillis) {
        if (!fields.ok()) {
            return new Checked(null, fields.problem());
        }
        InferenceRequest request = InferenceRequest.newBuilder()
                .setRequestId(requestId != null ? requestId : UUID.randomUUID().toString())
                .setTask(fields.checked().template().getTask())
                .setFields(fields.checked().fields())
                .setOptions(options)
                .setAdapterVersion(adapterVersion)
                .setCreatedAtMillis(nowMillis)
                .build();
        Optional<String> tooBig = RequestLimits.check(request);
        return tooBig.map(problem -> new Checked(null, problem)).orElseGet(() -> new Checked(request, null));
    }

    /**
     * Expects the answer, then sends {@code request} keyed by its id. The future fails with
     * {@link NotSentException} if the send fails; it never times out by itself: the caller bounds
     * its wait and then {@link AnswerWaits#forget}s the id.
     */
    public static CompletableFuture<Answer> send(Producer<String, ? super InferenceRequest> producer,
                                                 AnswerWaits answers, InferenceRequest request) {
        String id = request.getRequestId();
        CompletableFuture<Answer> answer = answers.expect(id);
        try {
            producer.send(new ProducerRecord<>(Topics.REQUESTS.name(), id, request), (metadata, error) -> {
                if (error != null) {
                    answers.forget(id);
                    answer.completeExceptionally(new NotSentException(id, error));
                }
            });
        } catch (RuntimeException e) {
            // serialization (registry) and buffer-full failures are thrown, not called back
            answers.forget(id);
            answer.completeExceptionally(new NotSentException(id, e));
        }
        return answer;
    }
}
