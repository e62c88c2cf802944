package io.tunestream.model.tune;

import java.util.Objects;

/**
 * Hyperparameters of a p-tuning run, NeMo's names in the docs. Validated at construction.
 *
 * @param lr              peak learning rate ({@code optim.lr})
 * @param minLr           floor of the cosine schedule ({@code optim.sched.min_lr})
 * @param warmupSteps     linear warmup ({@code optim.sched.warmup_steps})
 * @param maxEpochs       {@code trainer.max_epochs}
 * @param microBatch      {@code micro_batch_size}: examples in one forward/backward pass
 * @param globalBatch     {@code global_batch_size}: examples per optimizer step (a multiple of microBatch;
 *                        gradients of its micro-batches are averaged)
 * @param optimizer       AdamW hyperparameters
 * @param clipping        {@code trainer.gradient_clip_val}
 * @param patience        early-stopping patience in epochs
 * @param minDelta        early-stopping min_delta
 * @param seed            seeds every random choice: initialisation, shuffling, dropout
 */
public record TuningConfig(double lr, double minLr, int warmupSteps, int maxEpochs, int microBatch, int globalBatch,
                           AdamW optimizer, GradientClipping clipping, int patience, double minDelta, long seed) {

    public TuningConfig {
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(clipping, "clipping");
        if (maxEpochs < 1) {
            throw new IllegalArgumentException("max_epochs must be at least 1, got " + maxEpochs);
        }
        if (microBatch < 1) {
            throw new IllegalArgumentException("micro_batch_size must be at least 1, got " + microBatch);
        }
        if (globalBatch < microBatch || globalBatch % microBatch != 0) {
            throw new IllegalArgumentException("global_batch_size (" + globalBatch
                    + ") must be a positive multiple of micro_batch_size (" + microBatch + ")");
        }
        // the schedule validates lr, min_lr and warmup
        new CosineSchedule(lr, minLr, warmupSteps, warmupSteps + 1L);
        EarlyStopping.start(patience, minDelta);
    }

    /** NeMo's defaults (lr 1e-4, 50 warmup steps, min_lr 0, patience 10, min_delta 0.001) with the given batches and epochs. */
    public static TuningConfig nemoDefaults(int maxEpochs, int microBatch, int globalBatch, long seed) {
        return new TuningConfig(1e-4, 0.0, 50, maxEpochs, microBatch, globalBatch, AdamW.NEMO_DEFAULTS,
                GradientClipping.NEMO_DEFAULT, 10, 0.001, seed);
    }

    public TuningConfig withLr(double peak, double floor, int warmup) {
        return new TuningConfig(peak, floor, warmup, maxEpochs, microBatch, globalBatch, optimizer, clipping, patience,
                minDelta, seed);
    }

    public TuningConfig withEarlyStopping(int epochs, double delta) {
        return new TuningConfig(lr, minLr, warmupSteps, maxEpochs, microBatch, globalBatch, optimizer, clipping, epochs,
                delta, seed);
    }

    /** Optimizer steps in one epoch over {@code examples} (the last global batch may be short). */
    public long stepsPerEpoch(int examples) {
        return (examples + globalBatch - 1) / globalBatch;
    }

    /** The schedule of a run over {@code examples} training examples. */
    public CosineSchedule schedule(int examples) {
        long total = Math.max(stepsPerEpoch(examples) * maxEpochs, warmupSteps + 1L);
        return new CosineSchedule(lr, minLr, warmupSteps, total);
    }
}
