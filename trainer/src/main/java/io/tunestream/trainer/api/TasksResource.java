package io.tunestream.trainer.api;

import io.tunestream.trainer.control.ControlResult;
import io.tunestream.trainer.control.RunView;
import io.tunestream.trainer.control.TaskDetail;
import io.tunestream.trainer.control.TaskView;
import io.tunestream.trainer.control.TriggerResult;
import io.tunestream.trainer.control.VersionView;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SecuritySchemeType;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.security.SecurityRequirement;
import org.eclipse.microprofile.openapi.annotations.security.SecurityScheme;

/**
 * {@code /api/tasks}: the trainer's tasks, their versions and runs; trigger, pause, resume, roll back. Every request
 * needs {@code Authorization: Bearer <token>} when a token is configured ({@link ApiTokenFilter}); errors are JSON
 * with a reason ({@link ApiError}).
 */
@Path("/api/tasks")
@Produces(MediaType.APPLICATION_JSON)
@SecurityScheme(securitySchemeName = "bearer", type = SecuritySchemeType.HTTP, scheme = "bearer")
@SecurityRequirement(name = "bearer")
public class TasksResource {

    /** The body of a rollback: the kept version to go back to, and why (recorded in the ROLLBACK run record). */
    public record RollbackRequest(Integer version, String reason) {
    }

    /** The optional body of a pause or resume: why (kept on {@code task-controls}). */
    public record ControlRequest(String reason) {
    }

    private final TrainerApi api;

    public TasksResource(TrainerApi api) {
        this.api = api;
    }

    @GET
    @Operation(summary = "Every task with a template: serving version, example counts, next-run estimate, owner")
    public List<TaskView> tasks() {
        return api.tasks();
    }

    @GET
    @Path("/{task}")
    @Operation(summary = "One task with its kept versions and recent runs")
    @APIResponse(responseCode = "404", description = "unknown task")
    public TaskDetail task(@PathParam("task") String task) {
        return api.task(task);
    }

    @GET
    @Path("/{task}/versions")
    @Operation(summary = "The task's kept versions (adapter-history), oldest first; 'serving' marks the latest")
    public List<VersionView> versions(@PathParam("task") String task) {
        return api.versions(task);
    }

    @GET
    @Path("/{task}/versions/{version}/tables")
    @Operation(summary = "A kept version with its table (base64), the JSON the import takes")
    @APIResponse(responseCode = "404", description = "unknown task or version")
    public AdapterTables tables(@PathParam("task") String task, @PathParam("version") int version) {
        return api.tables(task, version);
    }

    @POST
    @Path("/{task}/versions")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Import an adapter's tables (Tunestream's AdapterVersion JSON, as exported): checked against "
            + "the model and template, numbered, signed and published as the next version with an IMPORTED run record")
    @APIResponse(responseCode = "201", description = "the new version")
    @APIResponse(responseCode = "400", description = "a field missing or unreadable, another model, other splits")
    public Response importTables(@PathParam("task") String task, AdapterTables tables) {
        VersionView published = api.importTables(task, tables);
        return Response.status(Response.Status.CREATED).entity(published).build();
    }

    @POST
    @Path("/{task}/versions/peft")
    @Consumes({"application/zip", MediaType.APPLICATION_OCTET_STREAM})
    @Operation(summary = "Import a PEFT adapter (PROMPT_TUNING, P_TUNING, PREFIX_TUNING): a zip of adapter_config.json and "
            + "adapter_model.safetensors, checked against the model and the template, numbered, signed and published "
            + "as the next version with an IMPORTED run record")
    @APIResponse(responseCode = "201", description = "the new version")
    @APIResponse(responseCode = "400", description = "not an adapter, or one that does not fit: 'peftReason' says why "
            + "(archive, config, safetensors, peft_type, dtype, shape, non_finite, size, model, template)")
    @APIResponse(responseCode = "404", description = "unknown task")
    @APIResponse(responseCode = "409", description = "a run in progress, or owned by another replica (named)")
    public Response importPeft(@PathParam("task") String task, @QueryParam("reason") String reason,
                               @QueryParam("source") String source, byte[] zip) {
        VersionView published = api.importPeft(task, zip, source, reason);
        return Response.status(Response.Status.CREATED).entity(published).build();
    }

    @GET
    @Path("/{task}/versions/{version}/peft")
    @Produces("application/zip")
    @Operation(summary = "A kept version as a PEFT adapter: a zip of adapter_config.json and adapter_model.safetensors")
    @APIResponse(responseCode = "404", description = "unknown task or version")
    public Response exportPeft(@PathParam("task") String task, @PathParam("version") int version,
                               @QueryParam("baseModel") String baseModel) {
        byte[] zip = api.exportPeft(task, version, baseModel);
        String file = task.replaceAll("[^A-Za-z0-9._-]", "_") + "-v" + version + "-peft.zip";
        return Response.ok(zip, "application/zip")
                .header("Content-Disposition", "attachment; filename=\"" + file + "\"").build();
    }

    @GET
    @Path("/{task}/runs")
    @Operation(summary = "The latest record of each of the task's recent runs, oldest first")
    public List<RunView> runs(@PathParam("task") String task) {
        return api.runs(task);
    }

    @POST
    @Path("/{task}/runs")
    @Operation(summary = "Start a run of the task now (at the next free run slot), new examples or not")
    @APIResponse(responseCode = "202", description = "started or queued")
    @APIResponse(responseCode = "404", description = "unknown task")
    @APIResponse(responseCode = "409", description = "paused, no examples, or owned by another replica (named)")
    public Response trigger(@PathParam("task") String task) {
        TriggerResult result = api.trigger(task);
        return Response.accepted(result).build();
    }

    @POST
    @Path("/{task}/rollback")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Republish a kept version's tables as the task's next version, with a ROLLBACK run record")
    @APIResponse(responseCode = "200", description = "the new version")
    @APIResponse(responseCode = "400", description = "no version given, or the version is for another model")
    @APIResponse(responseCode = "404", description = "unknown task or version")
    @APIResponse(responseCode = "409", description = "a run in progress, the version serving already, or another owner")
    public VersionView rollback(@PathParam("task") String task, RollbackRequest request) {
        return api.rollback(task, request == null ? null : request.version(), request == null ? null : request.reason());
    }

    @POST
    @Path("/{task}/pause")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Pause the task's retraining (kept on task-controls: across restarts and replicas)")
    public ControlResult pause(@PathParam("task") String task, ControlRequest request) {
        return api.pause(task, request == null ? null : request.reason());
    }

    @POST
    @Path("/{task}/resume")
    @Consumes(MediaType.APPLICATION_JSON)
    @Operation(summary = "Resume the task's retraining")
    public ControlResult resume(@PathParam("task") String task, ControlRequest request) {
        return api.resume(task, request == null ? null : request.reason());
    }
}
