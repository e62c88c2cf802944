/**
 * One tuning run of a task on the frozen model: NeMo settings mapped to the model module's tuning
 * configuration, warm start from a compatible checkpoint or exact resume of an interrupted run (its state split
 * into records and put back together, {@link io.tunestream.trainer.run.CheckpointChunks}), epoch-by-epoch progress
 * and checkpoints, the serving table's validation loss on the same examples, and the records a run publishes.
 */
package io.tunestream.trainer.run;
