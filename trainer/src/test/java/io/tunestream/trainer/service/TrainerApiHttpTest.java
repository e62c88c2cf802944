package io.tunestream.trainer.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The REST API over HTTP in the Quarkus service (the real loop on the embedded platform): the bearer token, JSON
 * errors with a reason, the OpenAPI document, health left open.
 */
@QuarkusTest
@WithTestResource(LocalPlatformResource.class)
class TrainerApiHttpTest {

    static final String TOKEN = "trainer-api-test-token";

    private final HttpClient http = HttpClient.newHttpClient();

    @TestHTTPResource("/")
    URI root;

    private HttpResponse<String> send(String method, String path, String token, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(root.resolve(path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError(method + " " + path + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @BeforeEach
    void loopAnswers() {
        // the loop answers commands once it has loaded the model and polls
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> send("GET", "/api/tasks", TOKEN, null).statusCode() == 200);
    }

    @Test
    void shouldRefuseRequestsWithoutTheTokenWith401AndAJsonReason() {
        HttpResponse<String> none = send("GET", "/api/tasks", null, null);
        HttpResponse<String> wrong = send("POST", "/api/tasks/qa/runs", "not-the-token", null);

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t)
                .startsWith("application/json"));
        assertThat(none.body()).contains("\"reason\":\"a bearer token is required (Authorization: Bearer <token>)\"");
        assertThat(wrong.statusCode()).isEqualTo(401);
    }

    @Test
    void shouldAnswerAnUnknownTaskWith404AndTheReason() {
        HttpResponse<String> trigger = send("POST", "/api/tasks/nope/runs", TOKEN, null);
        HttpResponse<String> versions = send("GET", "/api/tasks/nope/versions", TOKEN, null);

        assertThat(trigger.statusCode()).isEqualTo(404);
        assertThat(trigger.body()).contains("\"reason\":\"unknown task 'nope': no template for it on "
                + "quarkus-task-templates\"").contains("\"kind\":\"UNKNOWN_TASK\"").contains("\"task\":\"nope\"");
        assertThat(versions.statusCode()).isEqualTo(404);
    }

    @Test
    void shouldRefuseARollbackWithoutAVersionWith400() {
        HttpResponse<String> response = send("POST", "/api/tasks/qa/rollback", TOKEN, "{}");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("the body must name the version to roll back to");
    }

    @Test
    void shouldRefuseTooDeepJsonWith400() {
        String deep = "{\"other\":" + "[".repeat(40) + "]".repeat(40) + "}";
        String wrongShape = "{\"reason\": [1]}";

        HttpResponse<String> tooDeep = send("POST", "/api/tasks/qa/pause", TOKEN, deep);
        HttpResponse<String> unreadable = send("POST", "/api/tasks/qa/pause", TOKEN, wrongShape);

        assertThat(tooDeep.statusCode()).isEqualTo(400);
        assertThat(tooDeep.body()).contains("\"reason\":\"the body cannot be read: Document nesting depth (17) "
                + "exceeds the maximum allowed (16");
        assertThat(unreadable.statusCode()).isEqualTo(400);
        assertThat(unreadable.body()).contains("\"reason\":\"the body cannot be read: ").contains("\"kind\":\"INVALID\"");
    }

    @Test
    void shouldListTheTasksAsJson() {
        HttpResponse<String> response = send("GET", "/api/tasks", TOKEN, null);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).startsWith("[");
    }

    @Test
    void shouldServeTheOpenApiDocumentAndHealthWithoutAToken() {
        HttpResponse<String> openapi = send("GET", "/q/openapi?format=json", null, null);
        HttpResponse<String> live = send("GET", "/q/health/live", null, null);

        assertThat(openapi.statusCode()).isEqualTo(200);
        assertThat(openapi.body()).contains("/api/tasks/{task}/rollback").contains("/api/tasks/{task}/pause")
                .contains("bearer");
        assertThat(live.statusCode()).isEqualTo(200);
    }
}
