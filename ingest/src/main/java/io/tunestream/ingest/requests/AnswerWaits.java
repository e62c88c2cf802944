package io.tunestream.ingest.requests;

import io.tunestream.schemas.Answer;
import java.util.concurrent.CompletableFuture;

/** Answers awaited by request id: expect one before sending its request, so it cannot be missed. */
public interface AnswerWaits {

    /**
     * The answer to {@code requestId}, completed when it arrives (the first one, if several do).
     * Call before the request is sent; {@link #forget} it when no longer waiting.
     */
    CompletableFuture<Answer> expect(String requestId);

    /** Stops waiting for {@code requestId} (after a timeout or a failed send). */
    void forget(String requestId);
}
