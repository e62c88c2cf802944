package io.tunestream.trainer.control;

import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A command the loop did not carry out, with the reason in words (it reaches the caller as is) and what kind of
 * refusal it is. {@link Kind#NOT_OWNER} names the {@code examples} partition whose owner can carry it out.
 */
public final class CommandRefused extends RuntimeException {

    /** Why a command was refused. */
    public enum Kind {
        /** No template for the task on {@code task-templates}: the trainer does not know it. */
        UNKNOWN_TASK,
        /** The task is known, the thing asked for (a version) is not. */
        NOT_FOUND,
        /** The request cannot be carried out as asked (another model fingerprint, a bad version number). */
        INVALID,
        /** Not now: a run in progress, the version already serving, the task paused. */
        CONFLICT,
        /** Another replica owns the task ({@link #partition()}). */
        NOT_OWNER,
        /** The trainer cannot do it for the time being (catching up, registry or broker out of reach): retry. */
        UNAVAILABLE
    }

    private final Kind kind;
    private final String task;
    private final int partition;
    private final String peftReason;

    public CommandRefused(Kind kind, String task, String reason) {
        this(kind, task, -1, reason, null, null);
    }

    public CommandRefused(Kind kind, String task, String reason, Throwable cause) {
        this(kind, task, -1, reason, null, cause);
    }

    private CommandRefused(Kind kind, String task, int partition, String reason, String peftReason, Throwable cause) {
        super(Objects.requireNonNull(reason, "reason"), cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.task = task;
        this.partition = partition;
        this.peftReason = peftReason;
    }

    /**
     * An imported PEFT adapter that does not fit ({@link Kind#INVALID}), with the tag of
     * {@code io.tunestream.schemas.peft.PeftFormatException#reason()} ({@code model}, {@code template}, …).
     */
    public static CommandRefused invalidPeft(String task, String peftReason, String reason, Throwable cause) {
        return new CommandRefused(Kind.INVALID, task, -1, reason, Objects.requireNonNull(peftReason, "peftReason"),
                cause);
    }

    /** Another replica owns {@code task}, whose {@code examples} partition is {@code partition}. */
    public static CommandRefused notOwner(String task, int partition, String replica) {
        return new CommandRefused(Kind.NOT_OWNER, task, partition, "task '" + task + "' (examples partition "
                + partition + ") is not owned by replica " + replica, null, null);
    }

    public Kind kind() {
        return kind;
    }

    /** The task the command was about (null for commands about no task). */
    public String task() {
        return task;
    }

    /** With {@link #invalidPeft}: why the PEFT adapter was refused, as a tag. */
    public Optional<String> peftReason() {
        return Optional.ofNullable(peftReason);
    }

    /** With {@link Kind#NOT_OWNER}: the task's {@code examples} partition. */
    public OptionalInt partition() {
        return partition < 0 ? OptionalInt.empty() : OptionalInt.of(partition);
    }
}
