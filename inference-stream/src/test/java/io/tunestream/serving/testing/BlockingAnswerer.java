package io.tunestream.serving.testing;

import io.tunestream.schemas.FinishReason;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchCancellation;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A model that hangs: each batch blocks until it is cancelled (like a generation that ONNX Runtime's terminate
 * flag stops) or until {@link #release()}; one that {@linkplain #ignoringCancellation() ignores cancellation}
 * stands for a native call that never returns. Released batches answer "ok".
 */
public final class BlockingAnswerer implements BatchAnswerer {

    private final boolean honoursCancellation;
    private final CountDownLatch released = new CountDownLatch(1);
    private final AtomicInteger entered = new AtomicInteger();
    private final AtomicInteger cancelled = new AtomicInteger();
    private final AtomicInteger returned = new AtomicInteger();

    private BlockingAnswerer(boolean honoursCancellation) {
        this.honoursCancellation = honoursCancellation;
    }

    public static BlockingAnswerer stoppedByCancellation() {
        return new BlockingAnswerer(true);
    }

    public static BlockingAnswerer ignoringCancellation() {
        return new BlockingAnswerer(false);
    }

    @Override
    public ServingModelInfo model() {
        return EchoAnswerer.MODEL;
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items) {
        return answer(items, new BatchCancellation());
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items, BatchCancellation cancellation) {
        entered.incrementAndGet();
        try {
            var stop = new CountDownLatch(1);
            if (honoursCancellation) {
                cancellation.onCancel(stop::countDown);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!released.await(5, TimeUnit.MILLISECONDS) && !stop.await(0, TimeUnit.MILLISECONDS)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the test never released the model");
                }
            }
            if (cancellation.isCancelled()) {
                cancelled.incrementAndGet();
                throw new IllegalStateException("generation cancelled");
            }
            return items.stream().<BatchOutcome>map(i -> new BatchOutcome.Generated("ok", 3, 1, FinishReason.EOS))
                    .toList();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } finally {
            returned.incrementAndGet();
        }
    }

    /** Lets every batch, blocked or later, return. */
    public void release() {
        released.countDown();
    }

    /** Batches that started. */
    public int entered() {
        return entered.get();
    }

    /** Batches that returned because they were cancelled. */
    public int cancelled() {
        return cancelled.get();
    }

    /** Batches that returned, one way or another. */
    public int returned() {
        return returned.get();
    }
}
