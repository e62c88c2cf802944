package io.tunestream.trainer.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Verdict;
import io.tunestream.trainer.testing.Fixtures;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FeedbackConversionTest {

    private final Optional<TaskTemplate> template = Optional.of(Fixtures.template("qa").build());

    private static Feedback.Builder feedback(Verdict verdict) {
        return Feedback.newBuilder().setRequestId("req-1").setTask("qa").setVerdict(verdict)
                .setFields(Map.of("question", "capital of France?"));
    }

    @Test
    void shouldMakeTheCorrectionTheAnswerWhenCorrected() {
        FeedbackOutcome outcome = FeedbackConversion.convert(feedback(Verdict.CORRECTED).setCorrection(" Paris")
                .setAnswerText(" Lyon").build(), template, 42);
        assertThat(outcome).isInstanceOf(FeedbackOutcome.NewExample.class);
        LabelledExample example = ((FeedbackOutcome.NewExample) outcome).example();
        assertThat(example.getExampleId()).isEqualTo("feedback:req-1");
        assertThat(example.getSource()).isEqualTo("feedback:req-1");
        assertThat(example.getTask()).isEqualTo("qa");
        assertThat(example.getFields()).isEqualTo(Map.of("question", "capital of France?", "answer", " Paris"));
        assertThat(example.getSplit()).isEqualTo(DatasetSplit.TRAIN);
        assertThat(example.getCreatedAtMillis()).isEqualTo(42);
    }

    @Test
    void shouldMakeAPositiveExampleWhenAcceptedWithTheAnswer() {
        FeedbackOutcome outcome = FeedbackConversion.convert(feedback(Verdict.ACCEPTED).setAnswerText(" Paris").build(),
                template, 0);
        assertThat(((FeedbackOutcome.NewExample) outcome).example().getFields()).containsEntry("answer", " Paris");
    }

    @Test
    void shouldTrainNothingWhenRejected() {
        assertThat(FeedbackConversion.convert(feedback(Verdict.REJECTED).setAnswerText(" Lyon").build(), template, 0))
                .isEqualTo(new FeedbackOutcome.Rejected("req-1"));
    }

    @Test
    void shouldSkipFeedbackWithoutFields() {
        assertThat(FeedbackConversion.convert(feedback(Verdict.CORRECTED).setCorrection(" Paris").setFields(Map.of())
                .build(), template, 0)).isEqualTo(new FeedbackOutcome.Skipped("no request fields"));
    }

    @Test
    void shouldSkipAcceptedFeedbackWithoutTheAnswerText() {
        assertThat(FeedbackConversion.convert(feedback(Verdict.ACCEPTED).build(), template, 0))
                .isEqualTo(new FeedbackOutcome.Skipped("accepted without the answer text"));
    }

    @Test
    void shouldSkipACorrectionWithoutText() {
        assertThat(FeedbackConversion.convert(feedback(Verdict.CORRECTED).build(), template, 0))
                .isEqualTo(new FeedbackOutcome.Skipped("corrected without a correction"));
    }

    @Test
    void shouldSkipFeedbackOfATaskWithoutTemplate() {
        assertThat(FeedbackConversion.convert(feedback(Verdict.CORRECTED).setCorrection(" Paris").build(),
                Optional.empty(), 0)).isEqualTo(new FeedbackOutcome.Skipped("no template for the task"));
    }
}
