package io.tunestream.serving.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.devkit.LocalPlatform;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The serving fault suite (issue 14, point 8): each scenario of {@link FaultScenarios} at test scale
 * (hundreds of requests), on a platform of its own (the broker and the registry are stopped and
 * restarted here, so not the JVM's shared one). Every request id must get exactly what its scenario
 * expects: one answer (or the expected error answer, or one dead letter), none lost, none twice.
 */
class ServingFaultsIT {

    private static LocalPlatform platform;

    @BeforeAll
    static void startPlatform() {
        platform = LocalPlatform.start();
    }

    @AfterAll
    static void stopPlatform() {
        if (platform != null) {
            platform.close();
        }
    }

    private static FaultScenarios scenarios() {
        return new FaultScenarios(platform, FaultScenarios.Scale.test());
    }

    @Test
    @Timeout(180)
    void shouldAnswerEveryRequestOnceWhenAnInstanceIsKilledMidBatchAndRestarted() throws Exception {
        assertEveryRequestGotWhatItShould(scenarios().servingKilledMidBatch());
    }

    @Test
    @Timeout(150)
    void shouldAnswerEveryRequestOnceWhenTheBrokerIsStoppedAndRestartedUnderLoad() throws Exception {
        assertEveryRequestGotWhatItShould(scenarios().brokerRestart());
    }

    @Test
    @Timeout(150)
    void shouldAnswerEveryRequestOnceWhenTheRegistryIsDownForSecondsUnderLoad() throws Exception {
        assertEveryRequestGotWhatItShould(scenarios().registryOutage());
    }

    @Test
    @Timeout(150)
    void shouldAnswerEveryRequestOnceWhenServingRestartsWhileTheRegistryIsDown() throws Exception {
        assertEveryRequestGotWhatItShould(scenarios().servingRestartWhileRegistryDown());
    }

    @Test
    @Timeout(150)
    void shouldDeadLetterPoisonRequestsAndAnswerTheRestDespitePoisonInTheGlobalStores() throws Exception {
        FaultReport report = scenarios().poisonRecords();

        assertEveryRequestGotWhatItShould(report);
        assertThat(report.deadLettered()).as(report.details()).isEqualTo(2 * FaultScenarios.Scale.test().poison());
    }

    @Test
    @Timeout(150)
    void shouldAnswerOrDeadLetterEveryOversizedRecordWithTheReasonAndAnswerTheRest() throws Exception {
        FaultReport report = scenarios().oversizedRecords();

        assertEveryRequestGotWhatItShould(report);
        int each = FaultScenarios.Scale.test().oversized();
        assertThat(report.errorsByKind()).as(report.details())
                .isEqualTo(Map.of("PROMPT_TOO_LONG", each, "INTERNAL", each, "GENERATION_FAILED", each));
        assertThat(report.deadLettered()).as(report.details()).isEqualTo(each);
    }

    @Test
    @Timeout(150)
    void shouldAnswerTheRowsOfAHungModelCallWithTimeoutAndAnswerTheRest() throws Exception {
        FaultReport report = scenarios().hungModel();

        assertEveryRequestGotWhatItShould(report);
        assertThat(report.errorsByKind()).as(report.details()).containsKey("TIMEOUT");
    }

    private static void assertEveryRequestGotWhatItShould(FaultReport report) {
        System.out.println("FAULTS " + report.row());
        assertThat(report.sendFailures()).as("requests the producer failed to send\n" + report.details()).isEmpty();
        assertThat(report.pollFailures()).as("errors reading answers\n" + report.details()).isEmpty();
        assertThat(report.lost()).as("lost requests\n" + report.details()).isZero();
        assertThat(report.duplicated()).as("duplicated requests\n" + report.details()).isZero();
        assertThat(report.unexpected()).as("requests that got something else than expected\n" + report.details())
                .isEmpty();
        assertThat(report.sent()).as(report.details()).isGreaterThan(100);
        assertThat(report.recovery()).as("an answer to a request sent after the fault\n" + report.details())
                .isPresent();
    }
}
