/**
 * Each task as the trainer rebuilds it from the topics (template, examples, serving adapter, latest
 * checkpoint), which of its examples are new, the deterministic validation hold-out, and the
 * retraining trigger (minNewExamples or maxDelayMillis).
 */
package io.tunestream.trainer.state;
