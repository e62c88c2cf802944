package io.tunestream.trainer.control;

import java.util.List;

/** A task with its kept versions (oldest first) and its recent runs (oldest first). */
public record TaskDetail(TaskView task, List<VersionView> versions, List<RunView> runs) {
}
