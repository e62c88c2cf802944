package io.tunestream.serving.topology;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import io.tunestream.serving.serde.AvroBinarySerde;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Makes every answer fit the answers topic before it is forwarded. Under exactly_once_v2 a record the
 * broker (or the producer) refuses aborts the whole transaction, and the task replays the same input
 * and fails again, forever: no production exception handler can unstick it. So the size is checked here:
 * an error answer too big has its message truncated, a text answer too big becomes an {@code INTERNAL}
 * error answer, and an answer that cannot fit even then (its key alone is too big) is not sent at all.
 *
 * <p>The size counted is the key's UTF-8 bytes plus the value's Avro binary plus {@link #OVERHEAD_BYTES}
 * for the record batch, the record's framing and the registry's schema reference.
 */
final class AnswerFit {

    /** Record batch header (61 bytes), record framing (≤ 21), schema reference headers or prefix, with room. */
    static final int OVERHEAD_BYTES = 1024;

    private final AvroBinarySerde<Answer> avro = new AvroBinarySerde<>(Answer.class, Answer.getClassSchema());
    private final int budget;

    /** @param maxRecordBytes the answers topic's {@code max.message.bytes} (or the producer's, if smaller) */
    AnswerFit(int maxRecordBytes) {
        this.budget = maxRecordBytes - OVERHEAD_BYTES;
    }

    /** The answer as it may be sent (itself, or shrunk), or empty when not even its key and id fit. */
    Optional<Answer> fit(Answer answer) {
        if (upperBound(answer) <= budget) {
            return Optional.of(answer);
        }
        int size = size(answer);
        if (size <= budget) {
            return Optional.of(answer);
        }
        Answer shrunk;
        if (answer.getError() != null) {
            String message = answer.getError().getMessage();
            int keep = utf8Length(message) - (size - budget) - 64;
            shrunk = Answer.newBuilder(answer).setError(new AnswerError(answer.getError().getKind(),
                    truncate(message, keep))).build();
        } else {
            shrunk = Answer.newBuilder(answer)
                    .setText("")
                    .setFinishReason(FinishReason.ERROR)
                    .setError(new AnswerError(ErrorKind.INTERNAL, "request " + answer.getRequestId() + ", task "
                            + answer.getTask() + ": the answer of " + size + " bytes exceeds the answers topic's "
                            + "limit of " + (budget + OVERHEAD_BYTES) + " bytes"))
                    .build();
        }
        return size(shrunk) <= budget ? Optional.of(shrunk) : Optional.empty();
    }

    /** Bytes of the record: the key (the request id) and the value's Avro binary. */
    int size(Answer answer) {
        return utf8Length(answer.getRequestId()) + avro.encode(answer).length;
    }

    /** A cheap bound on {@link #size}: 3 bytes per char of every string, 2 length prefixes each, fixed fields. */
    private static long upperBound(Answer a) {
        long chars = 2L * a.getRequestId().length() + length(a.getTask()) + length(a.getText())
                + length(a.getModelFingerprint()) + (a.getError() == null ? 0 : length(a.getError().getMessage()));
        return 3 * chars + 200;
    }

    private static int length(CharSequence s) {
        return s == null ? 0 : s.length();
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** The longest prefix of {@code text} within {@code maxBytes} UTF-8 bytes, marked as truncated. */
    static String truncate(String text, int maxBytes) {
        String marker = "...(truncated from " + text.length() + " chars)";
        int room = Math.max(0, maxBytes - marker.length());
        int bytes = 0;
        int end = 0;
        while (end < text.length()) {
            int cp = text.codePointAt(end);
            int cpBytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            if (bytes + cpBytes > room) {
                break;
            }
            bytes += cpBytes;
            end += Character.charCount(cp);
        }
        return text.substring(0, end) + marker;
    }
}
