package io.tunestream.trainer.api;

import io.tunestream.schemas.http.BearerToken;
import io.tunestream.trainer.service.TrainerService;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import java.util.Optional;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/**
 * Every request of the REST API must carry the configured bearer token ({@code tunestream.api-token} or
 * {@code tunestream.api-token-file}), else 401 with a JSON reason; compared in constant time ({@link BearerToken}).
 * Health, metrics and the OpenAPI document ({@code /q/...}) are not REST resources and stay open.
 */
public class ApiTokenFilter {

    private final TrainerService service;

    public ApiTokenFilter(TrainerService service) {
        this.service = service;
    }

    @ServerRequestFilter
    public Optional<Response> requireToken(ContainerRequestContext request) {
        Optional<BearerToken> token = service.apiToken();
        if (token.isEmpty() || token.get().admits(request.getHeaderString(HttpHeaders.AUTHORIZATION))) {
            return Optional.empty();
        }
        return Optional.of(Response.fromResponse(ApiErrors.json(401, new ApiError.Body(
                "a bearer token is required (Authorization: Bearer <token>)", "UNAUTHORIZED", null, null)))
                .header(HttpHeaders.WWW_AUTHENTICATE, "Bearer").build());
    }
}
