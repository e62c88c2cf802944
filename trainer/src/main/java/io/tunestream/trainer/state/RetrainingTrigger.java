package io.tunestream.trainer.state;

import io.tunestream.trainer.control.NextRun;
import io.tunestream.schemas.RetrainingSettings;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * When a task's next run starts: it has a template and either at least
 * {@code minNewExamples} new usable examples since its last run, or at least one that has waited
 * {@code maxDelayMillis} (counted from the oldest unused example's record timestamp).
 */
public final class RetrainingTrigger {

    private RetrainingTrigger() {
    }

    /** Why {@code state} is due for a run at {@code nowMillis}, or empty when it is not. */
    public static Optional<String> due(TaskState state, long nowMillis) {
        if (state.template().isEmpty()) {
            return Optional.empty();
        }
        RetrainingSettings settings = state.template().get().getRetraining();
        // one scan of the examples for both the count and the oldest
        List<TrackedExample> fresh = state.newUsableExamples();
        OptionalLong first = fresh.stream().mapToLong(TrackedExample::timestampMillis).min();
        return due(fresh.size(), first, settings, nowMillis);
    }

    /** The rule itself, on counts and times. */
    public static Optional<String> due(int newUsableExamples, OptionalLong firstUnusedAtMillis,
                                       RetrainingSettings settings, long nowMillis) {
        if (newUsableExamples == 0) {
            return Optional.empty();
        }
        int min = Math.max(1, settings.getMinNewExamples());
        if (newUsableExamples >= min) {
            return Optional.of(newUsableExamples + " new examples (minNewExamples " + settings.getMinNewExamples() + ")");
        }
        long waited = nowMillis - firstUnusedAtMillis.orElse(nowMillis);
        if (waited >= settings.getMaxDelayMillis()) {
            return Optional.of(newUsableExamples + " new examples, the oldest waiting " + waited
                    + " ms (maxDelayMillis " + settings.getMaxDelayMillis() + ")");
        }
        return Optional.empty();
    }

    /**
     * When the next run is expected from the new usable examples: {@code DUE} (the rule holds now), {@code WAITING}
     * (it starts at the oldest example's {@code max_delay_millis}, or with the examples still needed) or {@code IDLE}
     * (no new usable example; {@code min_new_examples} of them start one).
     */
    public static NextRun estimate(int newUsableExamples, OptionalLong firstUnusedAtMillis,
                                   RetrainingSettings settings, long nowMillis) {
        int min = Math.max(1, settings.getMinNewExamples());
        if (newUsableExamples == 0) {
            return new NextRun("IDLE", null, min);
        }
        if (due(newUsableExamples, firstUnusedAtMillis, settings, nowMillis).isPresent()) {
            return NextRun.of("DUE");
        }
        return new NextRun("WAITING", firstUnusedAtMillis.orElse(nowMillis) + settings.getMaxDelayMillis(),
                min - newUsableExamples);
    }
}
