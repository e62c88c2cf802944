package io.tunestream.trainer.feedback;

import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.Feedback;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Turns feedback into training examples: a CORRECTED answer gives the request's fields with the
 * correction as the answer; an ACCEPTED answer with its text gives the request's fields with that
 * answer (a positive example); a REJECTED answer gives nothing. The example's id is
 * {@code feedback:<requestId>}, so the same feedback seen twice (a replay) gives the same
 * example, which replaces itself. Source is {@code feedback:<requestId>} too.
 *
 * <p>The answer field is the task template's; without a known template the feedback cannot be
 * placed and is skipped, as is feedback without fields.
 */
public final class FeedbackConversion {

    /** Prefix of the ids and sources of examples made from feedback. */
    public static final String SOURCE_PREFIX = "feedback:";

    private FeedbackConversion() {
    }

    /**
     * @param feedback the feedback
     * @param template the task's template, if the trainer has one
     * @param nowMillis the example's creation time
     */
    public static FeedbackOutcome convert(Feedback feedback, Optional<TaskTemplate> template, long nowMillis) {
        String answer;
        switch (feedback.getVerdict()) {
            case REJECTED -> {
                return new FeedbackOutcome.Rejected(feedback.getRequestId());
            }
            case CORRECTED -> {
                if (feedback.getCorrection() == null || feedback.getCorrection().isBlank()) {
                    return new FeedbackOutcome.Skipped("corrected without a correction");
                }
                answer = feedback.getCorrection();
            }
            case ACCEPTED -> {
                if (feedback.getAnswerText() == null || feedback.getAnswerText().isBlank()) {
                    return new FeedbackOutcome.Skipped("accepted without the answer text");
                }
                answer = feedback.getAnswerText();
            }
            default -> throw new IllegalArgumentException("feedback " + feedback.getRequestId() + ": unknown verdict "
                    + feedback.getVerdict());
        }
        if (feedback.getFields() == null || feedback.getFields().isEmpty()) {
            return new FeedbackOutcome.Skipped("no request fields");
        }
        if (template.isEmpty()) {
            return new FeedbackOutcome.Skipped("no template for the task");
        }
        String answerField = template.get().getAnswerField();
        if (answerField == null) {
            return new FeedbackOutcome.Skipped("template has no answer field");
        }
        Map<String, String> fields = new LinkedHashMap<>(feedback.getFields());
        fields.put(answerField, answer);
        String id = SOURCE_PREFIX + feedback.getRequestId();
        return new FeedbackOutcome.NewExample(LabelledExample.newBuilder()
                .setExampleId(id)
                .setTask(feedback.getTask())
                .setFields(fields)
                .setSplit(DatasetSplit.TRAIN)
                .setSource(id)
                .setCreatedAtMillis(nowMillis)
                .build());
    }
}
