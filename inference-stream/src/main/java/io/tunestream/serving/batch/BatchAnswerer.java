package io.tunestream.serving.batch;

import java.util.List;

/**
 * The model behind the serving topology: answers a batch of validated requests, which may mix
 * tasks, adapter versions and generation options, in one call.
 *
 * <p>Called from a Kafka Streams thread inside its transaction, so a call must return in well under
 * {@code max.poll.interval.ms}; the topology bounds the batches run per punctuation. Implementations
 * report a problem of one row as a {@link BatchOutcome.Failed} for that row; an exception means the
 * whole batch failed and every row gets a {@code GENERATION_FAILED} answer.
 */
public interface BatchAnswerer {

    /** The model this answerer serves; adapters are checked against it. */
    ServingModelInfo model();

    /** One outcome per item, in the order of {@code items}. */
    List<BatchOutcome> answer(List<BatchItem> items);
}
