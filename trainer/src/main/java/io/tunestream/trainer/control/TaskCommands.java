package io.tunestream.trainer.control;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.peft.PeftAdapter;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What the API asks of a trainer replica. Every command is carried out on the loop's thread (which alone touches the
 * consumers and the task state) and answered through the future, which fails with {@link CommandRefused} when the
 * command is refused. Commands that change a task (trigger, pause, resume, rollback) are carried out only by the
 * task's owner; others get {@link CommandRefused.Kind#NOT_OWNER}.
 */
public interface TaskCommands {

    /** Every task with a template, by name. */
    CompletableFuture<List<TaskView>> tasks();

    /** One task with its kept versions and recent runs. */
    CompletableFuture<TaskDetail> task(String task);

    /** A run of the task now (at the next free run slot), new examples or not. */
    CompletableFuture<TriggerResult> trigger(String task);

    /** Pauses ({@code paused} true) or resumes the task's retraining; kept on {@code task-controls}. */
    CompletableFuture<ControlResult> control(String task, boolean paused, String reason);

    /** Republishes kept version {@code version}'s tables as the task's next version, with a ROLLBACK run record. */
    CompletableFuture<VersionView> rollback(String task, int version, String reason);

    /**
     * Publishes {@code tables} (an adapter of the task; its version, run id, times and signature are ignored) as the
     * task's next version, with an IMPORTED run record, after the checks a rollback's tables pass.
     */
    CompletableFuture<VersionView> importTables(String task, AdapterVersion tables, String reason);

    /**
     * Publishes a PEFT adapter as the task's next version, with an IMPORTED run record: converted against this
     * replica's model and the task's template ({@code PeftConversion}), stored as the trainer stores its own tables,
     * then through the path of {@link #importTables}. Refused with {@link CommandRefused#invalidPeft} (the
     * {@code PeftFormatException} reason) when it does not fit.
     *
     * @param source where it came from, for the run record (a file name, "upload")
     */
    CompletableFuture<VersionView> importPeft(String task, PeftAdapter peft, String source, String reason);

    /** A kept version with its table, as published (a copy). */
    CompletableFuture<AdapterVersion> tables(String task, int version);

    /** The {@code examples} topic, whose partitions the replicas own (a task's owner owns its partition). */
    String examplesTopic();

    /** The consumer group the replicas share. */
    String groupId();

    /** This replica's id. */
    String replicaId();
}
