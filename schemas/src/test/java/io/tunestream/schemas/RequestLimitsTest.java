package io.tunestream.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestLimitsTest {

    private static InferenceRequest request(String id, String task, Map<String, String> fields, List<String> stop) {
        return InferenceRequest.newBuilder().setRequestId(id).setTask(task).setFields(fields)
                .setOptions(GenerationOptions.newBuilder().setStop(stop).build()).build();
    }

    @Test
    void shouldAcceptARequestAtEveryLimit() {
        var fields = new HashMap<String, String>();
        for (int i = 0; i < RequestLimits.MAX_FIELDS; i++) {
            fields.put("f".repeat(RequestLimits.MAX_FIELD_NAME_CHARS - 3) + String.format("%03d", i), "");
        }
        fields.put("f".repeat(RequestLimits.MAX_FIELD_NAME_CHARS - 3) + "000",
                "v".repeat(RequestLimits.MAX_FIELD_VALUES_CHARS));
        var stops = Collections.nCopies(RequestLimits.MAX_STOP_STRINGS, "s".repeat(RequestLimits.MAX_STOP_STRING_CHARS));

        assertThat(RequestLimits.check(request("i".repeat(256), "t".repeat(128), fields, stops))).isEmpty();
    }

    @Test
    void shouldRefuseARequestIdOverTheLimitNamingBothSizes() {
        assertThat(RequestLimits.check(request("x".repeat(257), "squad", Map.of(), List.of())))
                .contains("request id '" + "x".repeat(32) + "...(257 chars)' has 257 characters, more than the limit of 256");
    }

    @Test
    void shouldRefuseATaskNameOverTheLimit() {
        assertThat(RequestLimits.check(request("r1", "t".repeat(129), Map.of(), List.of())))
                .contains("request r1: task name '" + "t".repeat(32) + "...(129 chars)' has 129 characters, more than the limit of 128");
    }

    @Test
    void shouldRefuseTooManyOrTooLongFields() {
        var many = new HashMap<String, String>();
        for (int i = 0; i <= 64; i++) {
            many.put("f" + i, "v");
        }
        assertThat(RequestLimits.check(request("r1", "squad", many, List.of())))
                .contains("request r1: 65 fields, more than the limit of 64");
        assertThat(RequestLimits.check(request("r2", "squad", Map.of("context", "c".repeat(262_145)), List.of())))
                .contains("request r2: field values hold 262145 characters, more than the limit of 262144");
        assertThat(RequestLimits.check(request("r3", "squad", Map.of("n".repeat(129), "v"), List.of())))
                .contains("request r3: field name '" + "n".repeat(32) + "...(129 chars)' has 129 characters, more than the limit of 128");
    }

    @Test
    void shouldRefuseTooManyOrTooLongStopStrings() {
        assertThat(RequestLimits.check(request("r1", "squad", Map.of(), Collections.nCopies(17, "."))))
                .contains("request r1: 17 stop strings, more than the limit of 16");
        assertThat(RequestLimits.check(request("r2", "squad", Map.of(), List.of(".", "s".repeat(65)))))
                .contains("request r2: stop string 1 has 65 characters, more than the limit of 64");
    }

    @Test
    void shouldRefuseFeedbackWithALongCorrection() {
        var feedback = Feedback.newBuilder().setRequestId("r1").setTask("squad").setVerdict(Verdict.CORRECTED)
                .setCorrection("c".repeat(65_537)).build();
        assertThat(RequestLimits.check(feedback))
                .contains("feedback on request r1: correction has 65537 characters, more than the limit of 65536");
    }
}
