package io.tunestream.trainer.control;

/**
 * When a task's next run is expected to start, as far as this replica can tell.
 *
 * @param state           {@code RUNNING} (a run is in progress), {@code DUE} (starts at the next free run slot),
 *                        {@code WAITING} (new examples wait: it starts at {@code atMillis} or with
 *                        {@code examplesNeeded} more), {@code IDLE} (no new usable examples), {@code PAUSED},
 *                        {@code NOT_OWNED} (another replica owns the task and knows its examples)
 * @param atMillis        with WAITING: when the oldest waiting example reaches {@code max_delay_millis}; else null
 * @param examplesNeeded  with WAITING and IDLE: new usable examples still needed to reach {@code min_new_examples}
 */
public record NextRun(String state, Long atMillis, Integer examplesNeeded) {

    public static NextRun of(String state) {
        return new NextRun(state, null, null);
    }
}
