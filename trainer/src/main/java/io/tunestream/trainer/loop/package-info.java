/**
 * The trainer on Kafka: one consumer loop that never blocks on training, one run worker, the
 * transactional publisher (adapter + checkpoint + run record in one transaction) and the meters.
 */
package io.tunestream.trainer.loop;
