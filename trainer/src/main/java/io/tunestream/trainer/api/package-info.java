/**
 * The trainer's REST API ({@code /api/tasks}, OpenAPI at {@code /q/openapi}): the HTTP shell ({@link
 * io.tunestream.trainer.api.TasksResource}, the bearer-token filter, JSON errors) around {@link
 * io.tunestream.trainer.api.TrainerApi}, which hands commands to the loop and finds the owner of a task another
 * replica owns.
 */
package io.tunestream.trainer.api;
