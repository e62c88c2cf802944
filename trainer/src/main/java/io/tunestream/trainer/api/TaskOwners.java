package io.tunestream.trainer.api;

import java.util.Map;

/** Which replica of the trainer's group owns each {@code examples} partition (and so the tasks partitioned there). */
@FunctionalInterface
public interface TaskOwners {

    /**
     * Partition number to the owning member's replica id ({@code group.instance.id}, else its member id), for the
     * partitions of {@code examplesTopic} assigned in {@code group} now.
     *
     * @throws ApiError 503 when the group cannot be described
     */
    Map<Integer, String> owners(String group, String examplesTopic);
}
