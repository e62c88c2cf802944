package io.tunestream.serving.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.Answer;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.FinishReason;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The fault table's figures, computed from sends, answers and dead letters recorded by hand. */
class RequestBooksTest {

    private static final long MS = 1_000_000L;
    private final RequestBooks books = new RequestBooks();

    private static Answer ok(String id) {
        return Answer.newBuilder().setRequestId(id).setTask("t").setText("fine").setFinishReason(FinishReason.LENGTH).build();
    }

    private static Answer error(String id, ErrorKind kind) {
        return Answer.newBuilder().setRequestId(id).setTask("t").setFinishReason(FinishReason.ERROR)
                .setError(AnswerError.newBuilder().setKind(kind).setMessage("t: why").build()).build();
    }

    private void send(String id, long atMillis, RequestBooks.Expected expected, int partition) {
        books.sent(id, atMillis * MS, expected);
        books.acknowledged(id, partition);
    }

    @Test
    void shouldCountAnIdWithNeitherAnswerNorDeadLetterAsLostAndOneWithTwoAnswersAsDuplicated() {
        send("a", 0, RequestBooks.ANSWERED, 0);
        send("b", 0, RequestBooks.ANSWERED, 0);
        send("c", 0, RequestBooks.ANSWERED, 0);
        books.answered("a", ok("a"), 10 * MS);
        books.answered("b", ok("b"), 10 * MS);
        books.answered("b", ok("b"), 20 * MS);

        FaultReport report = books.report("s", Optional.empty(), p -> true);

        assertThat(report.sent()).isEqualTo(3);
        assertThat(report.answered()).isEqualTo(2);
        assertThat(report.lost()).isEqualTo(1);
        assertThat(report.lostIds()).containsExactly("c");
        assertThat(report.duplicated()).isEqualTo(1);
        assertThat(report.duplicatedIds()).containsExactly("b (2 answers, 0 dead letters)");
        assertThat(report.unexpected()).containsExactly("b: expected an answer, got an answer plus 1 more",
                "c: expected an answer, got nothing");
        assertThat(books.settled()).isFalse();
    }

    @Test
    void shouldMatchADeadLetterOnlyWhenItsReasonSaysWhatTheScenarioExpects() {
        send("long-id", 0, RequestBooks.deadLetteredBecause("cannot be keyed"), 0);
        send("other", 0, RequestBooks.deadLetteredBecause("cannot be keyed"), 0);
        books.deadLettered("long-id", "request id 'x' has 300 characters: an answer cannot be keyed by it");
        books.deadLettered("other", "bytes do not decode");

        FaultReport report = books.report("s", Optional.empty(), p -> true);

        assertThat(report.deadLettered()).isEqualTo(2);
        assertThat(report.unexpected()).containsExactly(
                "other: expected a dead letter saying 'cannot be keyed', got a dead letter (bytes do not decode)");
    }

    @Test
    void shouldCountErrorAnswersByKindAndDeadLettersAndNameOutcomesThatDifferFromTheExpectation() {
        send("long", 0, RequestBooks.errorOf("PROMPT_TOO_LONG"), 0);
        send("slow", 0, RequestBooks.errorOf("TIMEOUT"), 0);
        send("poison", 0, RequestBooks.DEAD_LETTERED, 1);
        send("valid", 0, RequestBooks.ANSWERED, 1);
        books.answered("long", error("long", ErrorKind.PROMPT_TOO_LONG), 5 * MS);
        books.answered("slow", error("slow", ErrorKind.GENERATION_FAILED), 5 * MS);
        books.deadLettered("poison");
        books.deadLettered("valid");

        FaultReport report = books.report("s", Optional.empty(), p -> true);

        assertThat(report.errorsByKind()).isEqualTo(Map.of("PROMPT_TOO_LONG", 1, "GENERATION_FAILED", 1));
        assertThat(report.deadLettered()).isEqualTo(2);
        assertThat(report.lost()).isZero();
        assertThat(report.duplicated()).isZero();
        assertThat(report.unexpected()).containsExactly(
                "slow: expected an error answer TIMEOUT, got an error answer GENERATION_FAILED (t: why)",
                "valid: expected an answer, got a dead letter");
        assertThat(books.settled()).isTrue();
        assertThat(report.row()).isEqualTo(
                "| s | 4 | 0 | GENERATION_FAILED 1, PROMPT_TOO_LONG 1 | 2 | 0 | 0 | n/a | 5 ms |");
    }

    @Test
    void shouldMeasureRecoveryFromTheFaultEndToTheFirstAnswerOfARequestSentAfterItOnTheHitPartitions() {
        send("before", 900, RequestBooks.ANSWERED, 0);
        send("after-other-partition", 1000, RequestBooks.ANSWERED, 1);
        send("after-1", 1100, RequestBooks.ANSWERED, 0);
        send("after-2", 1200, RequestBooks.ANSWERED, 0);
        books.answered("before", ok("before"), 1050 * MS);
        books.answered("after-other-partition", ok("after-other-partition"), 1010 * MS);
        books.answered("after-2", ok("after-2"), 1700 * MS);
        books.answered("after-1", ok("after-1"), 1900 * MS);

        FaultReport report = books.report("s", Optional.of(1000 * MS), p -> p == 0);

        assertThat(report.recovery()).contains(Duration.ofMillis(700));
        assertThat(books.answeredSince(1000 * MS, p -> p == 0)).isTrue();
        assertThat(books.answeredSince(1300 * MS, p -> true)).isFalse();
    }

    @Test
    void shouldTakeTheNinetyNinthPercentileOfSendToAnswerLatencyAndLeaveSendFailuresOut() {
        for (int i = 1; i <= 100; i++) {
            send("r" + i, 0, RequestBooks.ANSWERED, 0);
            books.answered("r" + i, ok("r" + i), i * MS);
        }
        books.sent("failed", 0, RequestBooks.ANSWERED);
        books.sendFailed("failed", "TimeoutException");

        FaultReport report = books.report("s", Optional.empty(), p -> true);

        assertThat(report.p99Millis()).isEqualTo(99.0);
        assertThat(report.sent()).isEqualTo(100);
        assertThat(report.lost()).isZero();
        assertThat(report.sendFailures()).isEqualTo(Map.of("failed", "TimeoutException"));
    }
}
