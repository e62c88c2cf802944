package io.tunestream.devkit.junit;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.PlatformEndpoints;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The registry the platform starts is a real Apicurio Registry 3 speaking its v3 REST API. */
@ExtendWith(LocalPlatformExtension.class)
class RegistryRestIT {
    private static final String SCHEMA =
            "{\"type\":\"record\",\"name\":\"Prompt\",\"namespace\":\"io.tunestream.test\",\"fields\":[{\"name\":\"text\",\"type\":\"string\"}]}";

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void shouldAnswerSystemInfoWithVersion309(PlatformEndpoints platform) throws Exception {
        HttpResponse<String> info = send(HttpRequest.newBuilder(URI.create(platform.registryApiUrl() + "/system/info")).GET());

        assertThat(info.statusCode()).isEqualTo(200);
        assertThat(info.body()).contains("\"version\":\"3.0.9\"");
    }

    @Test
    void shouldReturnTheSchemaWhenAnArtifactWasRegistered(PlatformEndpoints platform) throws Exception {
        String group = "devkit-" + UUID.randomUUID();
        String artifactId = "prompt-value";
        String createArtifact = "{\"artifactId\":\"" + artifactId + "\",\"artifactType\":\"AVRO\","
                + "\"firstVersion\":{\"version\":\"1\",\"content\":{\"contentType\":\"application/json\",\"content\":"
                + quoted(SCHEMA) + "}}}";

        HttpResponse<String> created = send(HttpRequest.newBuilder(URI.create(platform.registryApiUrl() + "/groups/" + group + "/artifacts"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(createArtifact)));
        HttpResponse<String> fetched = send(HttpRequest.newBuilder(URI.create(platform.registryApiUrl()
                + "/groups/" + group + "/artifacts/" + artifactId + "/versions/1/content")).GET());
        HttpResponse<String> deleted = send(HttpRequest.newBuilder(URI.create(platform.registryApiUrl() + "/groups/" + group)).DELETE());

        assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
        assertThat(created.body()).contains("\"artifactId\":\"" + artifactId + "\"", "\"groupId\":\"" + group + "\"");
        assertThat(fetched.statusCode()).isEqualTo(200);
        assertThat(fetched.body()).isEqualTo(SCHEMA);
        assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String quoted(String json) {
        return "\"" + json.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
