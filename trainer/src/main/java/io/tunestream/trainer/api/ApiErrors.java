package io.tunestream.trainer.api;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

/** Every error of the API as JSON with a reason ({@link ApiError.Body}), also those the HTTP layer raises. */
public class ApiErrors {

    @ServerExceptionMapper
    public Response apiError(ApiError error) {
        return json(error.status(), error.body());
    }

    /** Unknown paths, wrong methods, unreadable bodies: the status the framework chose, with its message. */
    @ServerExceptionMapper
    public Response webError(WebApplicationException error) {
        int status = error.getResponse().getStatus();
        return json(status, new ApiError.Body(error.getMessage(), status == 400 ? "INVALID" : "HTTP", null, null));
    }

    static Response json(int status, ApiError.Body body) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(body).build();
    }
}
