/**
 * The continuous tuning service. The core is plain Java, testable without Quarkus:
 * {@link io.tunestream.trainer.state} (what the topics say about each task, when it is due),
 * {@link io.tunestream.trainer.feedback} (feedback to examples), {@link io.tunestream.trainer.run}
 * (one run on the frozen model and the publish-or-not decision) and {@link io.tunestream.trainer.loop}
 * (the Kafka consumer loop, the run worker and transactional publishing). {@link io.tunestream.trainer.service}
 * is the Quarkus shell: configuration, lifecycle, health and metrics.
 */
package io.tunestream.trainer;
