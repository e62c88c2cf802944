/** Commands that print figures about retraining (see BENCHMARKS.md). */
package io.tunestream.trainer.bench;
