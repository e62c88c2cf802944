package io.tunestream.trainer.api;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftArchive;
import io.tunestream.schemas.peft.PeftConfig;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.trainer.control.CommandRefused;
import io.tunestream.trainer.control.ControlResult;
import io.tunestream.trainer.control.RunView;
import io.tunestream.trainer.control.TaskCommands;
import io.tunestream.trainer.control.TaskDetail;
import io.tunestream.trainer.control.TaskView;
import io.tunestream.trainer.control.TriggerResult;
import io.tunestream.trainer.control.VersionView;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * What the REST API does, without HTTP: hands each request to the replica's loop ({@link TaskCommands}), waits at
 * most {@code timeout} for the answer and turns refusals into {@link ApiError}s: unknown task or version 404, bad
 * input 400, a conflict 409, a task another replica owns 409 naming that replica (found in the group's assignment,
 * {@link TaskOwners}), not now 503.
 */
public final class TrainerApi {

    private final Supplier<TaskCommands> replica;
    private final TaskOwners owners;
    private final Duration timeout;

    /**
     * @param replica the loop, or null while it has not started
     */
    public TrainerApi(Supplier<TaskCommands> replica, TaskOwners owners, Duration timeout) {
        this.replica = Objects.requireNonNull(replica, "replica");
        this.owners = Objects.requireNonNull(owners, "owners");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    /** Every task with a template; the owner of each task another replica owns is named when the group says. */
    public List<TaskView> tasks() {
        TaskCommands loop = loop();
        List<TaskView> tasks = await(null, loop.tasks());
        if (tasks.stream().allMatch(TaskView::ownedHere)) {
            return tasks;
        }
        Map<Integer, String> byPartition;
        try {
            byPartition = owners.owners(loop.groupId(), loop.examplesTopic());
        } catch (ApiError e) {
            return tasks; // the list still answers; owners stay unnamed
        }
        return tasks.stream().map(t -> t.ownedHere() ? t : t.withOwner(byPartition.get(t.partition()))).toList();
    }

    public TaskDetail task(String task) {
        return await(task, loop().task(task));
    }

    public List<VersionView> versions(String task) {
        return task(task).versions();
    }

    public List<RunView> runs(String task) {
        return task(task).runs();
    }

    public TriggerResult trigger(String task) {
        return await(task, loop().trigger(task));
    }

    public ControlResult pause(String task, String reason) {
        return await(task, loop().control(task, true, reason));
    }

    public ControlResult resume(String task, String reason) {
        return await(task, loop().control(task, false, reason));
    }

    /**
     * @param version the kept version to go back to; null is a 400
     */
    public VersionView rollback(String task, Integer version, String reason) {
        if (version == null) {
            throw new ApiError(400, "INVALID", task, "the body must name the version to roll back to: {\"version\": N}");
        }
        return await(task, loop().rollback(task, version, reason));
    }

    /** Publishes imported tables (the JSON of {@link AdapterTables}) as the task's next version. */
    public VersionView importTables(String task, AdapterTables tables) {
        if (tables == null) {
            throw new ApiError(400, "INVALID", task, "the body must hold the adapter's tables (JSON, as exported)");
        }
        return await(task, loop().importTables(task, tables.toAdapter(task), tables.reason()));
    }

    /**
     * Publishes a PEFT adapter (a zip of {@code adapter_config.json} and {@code adapter_model.safetensors},
     * {@link PeftArchive}) as the task's next version, after the checks against the model and the task's template.
     *
     * @throws ApiError 400 with the {@code PeftFormatException} reason's tag ({@code peftReason}) when the zip or its
     *                  adapter cannot be read or does not fit; the refusals of {@link #importTables} otherwise
     */
    public VersionView importPeft(String task, byte[] zip, String source, String reason) {
        if (zip == null || zip.length == 0) {
            throw ApiError.invalidPeft(task, "archive", "the body must be a zip of " + PeftConfig.FILE_NAME + " and "
                    + PeftAdapter.WEIGHTS_FILE + " (Content-Type: " + PeftArchive.MEDIA_TYPE + ")");
        }
        PeftAdapter peft;
        try {
            peft = PeftArchive.read(zip);
        } catch (PeftFormatException e) {
            throw ApiError.invalidPeft(task, e.reason(), "the PEFT adapter cannot be read (" + e.reason() + "): "
                    + e.getMessage());
        }
        return await(task, loop().importPeft(task, peft, source == null || source.isBlank() ? "upload" : source,
                reason));
    }

    /**
     * A kept version as a PEFT adapter zip ({@link PeftConversion#toPeft}, {@link PeftArchive}).
     *
     * @param baseModel PEFT's {@code base_model_name_or_path}, or null
     */
    public byte[] exportPeft(String task, int version, String baseModel) {
        AdapterVersion adapter = await(task, loop().tables(task, version));
        try {
            return PeftArchive.write(PeftConversion.toPeft(adapter, Optional.ofNullable(baseModel)
                    .filter(b -> !b.isBlank())));
        } catch (PeftFormatException e) {
            throw new ApiError(500, "INTERNAL", task, "task '" + task + "' v" + version + " cannot be written as a "
                    + "PEFT adapter (" + e.reason() + "): " + e.getMessage());
        }
    }

    /** A kept version with its table, as {@link AdapterTables}. */
    public AdapterTables tables(String task, int version) {
        return AdapterTables.of(await(task, loop().tables(task, version)));
    }

    private TaskCommands loop() {
        TaskCommands loop = replica.get();
        if (loop == null) {
            throw new ApiError(503, "UNAVAILABLE", null, "the trainer has not started yet");
        }
        return loop;
    }

    private <T> T await(String task, CompletableFuture<T> answer) {
        try {
            return answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            answer.cancel(false);
            throw new ApiError(503, "UNAVAILABLE", task, "the trainer did not answer within " + timeout
                    + " (loading the model, or busy); try again");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "UNAVAILABLE", task, "interrupted while waiting for the trainer");
        } catch (ExecutionException e) {
            throw translate(task, e.getCause());
        }
    }

    private ApiError translate(String task, Throwable cause) {
        if (!(cause instanceof CommandRefused refused)) {
            return new ApiError(500, "INTERNAL", task, "the trainer failed: " + cause);
        }
        String name = refused.task() == null ? task : refused.task();
        return switch (refused.kind()) {
            case UNKNOWN_TASK, NOT_FOUND -> new ApiError(404, refused.kind().name(), name, refused.getMessage());
            case INVALID -> refused.peftReason().map(tag -> ApiError.invalidPeft(name, tag, refused.getMessage()))
                    .orElseGet(() -> new ApiError(400, refused.kind().name(), name, refused.getMessage()));
            case CONFLICT -> new ApiError(409, refused.kind().name(), name, refused.getMessage());
            case UNAVAILABLE -> new ApiError(503, refused.kind().name(), name, refused.getMessage());
            case NOT_OWNER -> notOwner(name, refused);
        };
    }

    private ApiError notOwner(String task, CommandRefused refused) {
        TaskCommands loop = loop();
        int partition = refused.partition().orElseThrow();
        String owner = owners.owners(loop.groupId(), loop.examplesTopic()).get(partition);
        if (owner == null) {
            return new ApiError(503, "UNAVAILABLE", task, "task '" + task + "' (examples partition " + partition
                    + ") has no owner in group '" + loop.groupId() + "' right now (a rebalance); try again");
        }
        return new ApiError(409, "NOT_OWNER", task, owner, "task '" + task + "' is owned by replica '" + owner
                + "' (examples partition " + partition + "), not by '" + loop.replicaId() + "': send the request there");
    }
}
