package io.tunestream.serving.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class AnswerFitTest {

    private static Answer error(String id, String message) {
        return Answer.newBuilder().setRequestId(id).setTask("squad").setAdapterVersion(null)
                .setFinishReason(FinishReason.ERROR).setError(new AnswerError(ErrorKind.INTERNAL, message)).build();
    }

    @Test
    void shouldCutWithinTheByteBudgetWithoutSplittingACharacter() {
        String text = "é😀".repeat(1000);

        String cut = AnswerFit.truncate(text, 100);

        assertThat(cut.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(100);
        assertThat(cut).endsWith("...(truncated from 3000 chars)");
        String kept = cut.substring(0, cut.indexOf("..."));
        assertThat(kept).isNotEmpty();
        assertThat(text).startsWith(kept);
        assertThat(Character.isHighSurrogate(kept.charAt(kept.length() - 1))).isFalse();
    }

    @Test
    void shouldLeaveAnAnswerThatFitsAsItIs() {
        var fit = new AnswerFit(64 * 1024);
        Answer small = error("r1", "bad");

        assertThat(fit.fit(small)).containsSame(small);
    }

    @Test
    void shouldGiveNothingWhenTheKeyAloneIsOverTheLimit() {
        var fit = new AnswerFit(8 * 1024);

        assertThat(fit.fit(error("x".repeat(8 * 1024), "bad"))).isEmpty();
    }
}
