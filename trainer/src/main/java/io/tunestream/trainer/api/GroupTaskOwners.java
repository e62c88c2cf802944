package io.tunestream.trainer.api;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.TopicPartition;

/** The owners from the group's current assignment ({@code describeConsumerGroups}); the admin client is the caller's. */
public final class GroupTaskOwners implements TaskOwners {

    private final Admin admin;
    private final Duration timeout;

    public GroupTaskOwners(Admin admin, Duration timeout) {
        this.admin = Objects.requireNonNull(admin, "admin");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    @Override
    public Map<Integer, String> owners(String group, String examplesTopic) {
        ConsumerGroupDescription description;
        try {
            description = admin.describeConsumerGroups(List.of(group)).describedGroups().get(group)
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new ApiError(503, "UNAVAILABLE", null, "the trainer group '" + group + "' cannot be described: "
                    + (e.getCause() == null ? e : e.getCause()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "UNAVAILABLE", null, "interrupted while describing group '" + group + "'");
        }
        Map<Integer, String> owners = new HashMap<>();
        for (MemberDescription member : description.members()) {
            String replica = member.groupInstanceId().orElse(member.consumerId());
            for (TopicPartition p : member.assignment().topicPartitions()) {
                if (p.topic().equals(examplesTopic)) {
                    owners.put(p.partition(), replica);
                }
            }
        }
        return owners;
    }
}
