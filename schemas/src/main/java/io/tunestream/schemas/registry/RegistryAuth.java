package io.tunestream.schemas.registry;

import java.net.URI;
import java.util.Objects;
import java.util.Optional;

/**
 * How a client authenticates to a registry that requires OIDC: the OAuth2 client-credentials grant
 * at {@code tokenEndpoint}, the access token then sent as {@code Authorization: Bearer}. The same
 * values drive Apicurio's serdes ({@code apicurio.registry.auth.service.token.endpoint},
 * {@code apicurio.registry.auth.client.id}, {@code apicurio.registry.auth.client.secret}) and
 * {@link SchemaRegistration} ({@link RegistryTokens}).
 *
 * <p>{@link #toString()} never shows the secret.
 *
 * @param tokenEndpoint the OIDC token endpoint, e.g. {@code https://keycloak/realms/tunestream/protocol/openid-connect/token}
 * @param clientId      the client id of this service
 * @param clientSecret  its secret (read from a file or the environment, never logged)
 * @param scope         scope asked for, when the identity provider needs one
 */
public record RegistryAuth(URI tokenEndpoint, String clientId, String clientSecret, Optional<String> scope) {

    public RegistryAuth {
        Objects.requireNonNull(tokenEndpoint, "tokenEndpoint");
        Objects.requireNonNull(clientId, "clientId");
        Objects.requireNonNull(clientSecret, "clientSecret");
        Objects.requireNonNull(scope, "scope");
        if (!"http".equals(tokenEndpoint.getScheme()) && !"https".equals(tokenEndpoint.getScheme())
                || tokenEndpoint.getHost() == null) {
            throw new IllegalArgumentException("registry token endpoint '" + tokenEndpoint + "' must be an http(s) URL");
        }
        if (clientId.isBlank()) {
            throw new IllegalArgumentException("registry client id must not be blank");
        }
        if (clientSecret.isBlank()) {
            throw new IllegalArgumentException("registry client secret of client '" + clientId + "' is empty");
        }
    }

    public RegistryAuth(URI tokenEndpoint, String clientId, String clientSecret) {
        this(tokenEndpoint, clientId, clientSecret, Optional.empty());
    }

    @Override
    public String toString() {
        return "RegistryAuth[tokenEndpoint=" + tokenEndpoint + ", clientId=" + clientId + ", clientSecret=***"
                + scope.map(s -> ", scope=" + s).orElse("") + "]";
    }
}
