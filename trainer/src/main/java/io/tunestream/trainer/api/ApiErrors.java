package io.tunestream.trainer.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
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
        if (error.getCause() instanceof JacksonException unreadable) {
            return unreadableBody(unreadable);
        }
        int status = error.getResponse().getStatus();
        return json(status, new ApiError.Body(error.getMessage(), status == 400 ? "INVALID" : "HTTP", null, null));
    }

    /** A body that is not JSON, too deep or too long ({@link ApiJson}), or of the wrong shape: 400 with why. */
    @ServerExceptionMapper
    public Response unreadableBody(JacksonException error) {
        String why = error.getOriginalMessage();
        return json(400, new ApiError.Body("the body cannot be read: " + (why == null ? error.toString() : why),
                "INVALID", null, null));
    }

    /** A body of the wrong shape (a list where a string goes): also 400 with why, not the framework's own body. */
    @ServerExceptionMapper
    public Response wrongShape(MismatchedInputException error) {
        return unreadableBody(error);
    }

    static Response json(int status, ApiError.Body body) {
        return Response.status(status).type(MediaType.APPLICATION_JSON).entity(body).build();
    }
}
