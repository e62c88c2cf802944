package io.tunestream.serving.batch;

import io.tunestream.serving.ops.ServingMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.internals.ExponentialBackoff;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retries the {@link TransientBatchFailure}s of another answerer before they become error answers: a
 * splittable one (out of memory) by answering each half of the batch on its own (recursively, down to
 * single rows), any other after an exponential back-off, at most {@code retries} times per batch or half.
 * Back-offs end early when the batch is cancelled. Runs on the model executor.
 */
public final class RetryingAnswerer implements BatchAnswerer {

    private static final Logger LOG = LoggerFactory.getLogger(RetryingAnswerer.class);

    private final BatchAnswerer delegate;
    private final int retries;
    private final ExponentialBackoff backoff;
    private final ServingMetrics metrics;

    /**
     * @param retries      retries of one batch (or half) after its first attempt; 0 turns retrying off
     * @param firstBackoff wait before the first retry; it doubles at each retry, up to 20 times this
     */
    public RetryingAnswerer(BatchAnswerer delegate, int retries, Duration firstBackoff, ServingMetrics metrics) {
        if (retries < 0) {
            throw new IllegalArgumentException("retries must be >= 0, was " + retries);
        }
        this.delegate = delegate;
        this.retries = retries;
        this.backoff = new ExponentialBackoff(Math.max(1, firstBackoff.toMillis()), 2,
                Math.max(1, firstBackoff.toMillis()) * 20, 0.2);
        this.metrics = metrics;
    }

    @Override
    public ServingModelInfo model() {
        return delegate.model();
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items) {
        return answer(items, new BatchCancellation());
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
        int attempt = 0;
        while (true) {
            try {
                return delegate.answer(items, cancellation);
            } catch (TransientBatchFailure e) {
                if (cancellation.isCancelled() || attempt >= retries) {
                    throw e;
                }
                if (e.splittable() && items.size() > 1) {
                    int half = items.size() / 2;
                    LOG.warn("batch of {} failed ({}); answering it in halves of {} and {}", items.size(),
                            e.getMessage(), half, items.size() - half);
                    metrics.batchSplit();
                    var outcomes = new ArrayList<BatchOutcome>(items.size());
                    outcomes.addAll(answer(items.subList(0, half), cancellation));
                    outcomes.addAll(answer(items.subList(half, items.size()), cancellation));
                    return outcomes;
                }
                long waitMillis = backoff.backoff(attempt++);
                LOG.warn("batch of {} failed ({}); retry {} of {} in {} ms", items.size(), e.getMessage(), attempt,
                        retries, waitMillis);
                metrics.batchRetried();
                try {
                    if (cancellation.await(Duration.ofMillis(waitMillis))) {
                        throw e;
                    }
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }
}
