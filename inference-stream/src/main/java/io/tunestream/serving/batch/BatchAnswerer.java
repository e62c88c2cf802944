package io.tunestream.serving.batch;

import io.tunestream.model.generate.PrefixCache;
import java.util.List;
import java.util.Optional;

/**
 * The model behind the serving topology: answers a batch of validated requests, which may mix
 * tasks, adapter versions and generation options, in one call.
 *
 * <p>Called on the model executor, off the stream thread. Implementations report a problem of one row as a
 * {@link BatchOutcome.Failed} for that row; a {@link TransientBatchFailure} means the batch may succeed when
 * retried (or split); any other exception means the whole batch failed and every row gets a
 * {@code GENERATION_FAILED} answer.
 */
public interface BatchAnswerer {

    /** The model this answerer serves; adapters are checked against it. */
    ServingModelInfo model();

    /** One outcome per item, in the order of {@code items}. */
    List<BatchOutcome> answer(List<BatchItem> items);

    /**
     * Like {@link #answer(List)}, stopping as soon as it can once {@code cancellation} is cancelled (its
     * outcomes are then dropped). The default ignores the cancellation: a stand-in that returns quickly
     * needs nothing more.
     */
    default List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
        return answer(items);
    }

    /** The model's prefix cache, for its metrics; empty when there is none (stand-ins, cache off). */
    default Optional<PrefixCache> prefixCache() {
        return Optional.empty();
    }

    /** The model's decoded adapter tables, for their metrics; empty when there are none (stand-ins). */
    default Optional<io.tunestream.serving.model.AdapterTableCache> adapterTableCache() {
        return Optional.empty();
    }
}
