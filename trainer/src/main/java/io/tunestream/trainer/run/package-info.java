/**
 * One tuning run of a task on the frozen model: NeMo settings mapped to the model module's tuning
 * configuration, warm start from a compatible checkpoint, epoch-by-epoch progress, the serving table's
 * validation loss on the same examples, and the records a run publishes.
 */
package io.tunestream.trainer.run;
