package io.tunestream.trainer.loop;

/**
 * Points of a run where the trainer can die and must leave the topics consistent; a {@link Listener}
 * hears each as it is reached (tests stop the process there to check what a restart finds).
 */
public enum RunPhase {

    /** The run's STARTED record is committed; the run has not produced anything yet. */
    RUN_STARTED,

    /** Every record of the outcome's transaction is on the broker (flushed); the transaction is not committed yet. */
    PUBLISH_SENT;

    /** Hears the phases, on the run worker's thread; must not throw. */
    @FunctionalInterface
    public interface Listener {

        Listener NONE = (phase, task, version) -> { };

        /**
         * @param version the version being published at {@link #PUBLISH_SENT}, 0 otherwise
         */
        void reached(RunPhase phase, String task, int version);
    }
}
