package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.trainer.state.TaskSnapshot;
import io.tunestream.trainer.testing.Fixtures;
import io.tunestream.trainer.testing.StandInRunner;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SigningTaskRunnerTest {

    private static final KeyPair KEYS = AdapterKeys.generate();

    private static TaskSnapshot snapshot(String task) {
        return new TaskSnapshot(task, Fixtures.template(task).build(), List.of(), List.of(), false, Optional.empty(),
                Optional.empty(), 1);
    }

    @Test
    void shouldSignEveryPublishedVersionSoServingAcceptsItForItsTaskAndVersionOnly() {
        var runner = new SigningTaskRunner(new StandInRunner(), new AdapterSigner("trainer-1", KEYS.getPrivate()));

        RunOutcome outcome = runner.run(snapshot("squad"), "run-1", running -> { });

        AdapterVersion published = ((RunOutcome.Published) outcome).adapter();
        var verifier = AdapterVerifier.trusting(Map.of("trainer-1", KEYS.getPublic()));
        assertThat(published.getSignatureKeyId()).isEqualTo("trainer-1");
        assertThat(verifier.refusal(published)).isEmpty();
        assertThat(verifier.refusal(AdapterVersion.newBuilder(published).setVersion(published.getVersion() + 1)
                .build())).isPresent();
    }

    @Test
    void shouldSealTablesRepublishedUnderANewVersionWithTheTrainersKey() {
        var runner = new SigningTaskRunner(new StandInRunner(), new AdapterSigner("trainer-1", KEYS.getPrivate()));
        AdapterVersion v1 = ((RunOutcome.Published) runner.run(snapshot("squad"), "run-1", running -> { })).adapter();
        var verifier = AdapterVerifier.trusting(Map.of("trainer-1", KEYS.getPublic()));

        // a rollback to v1 as v3: v1's signature does not cover v3, the sealed copy's does
        AdapterVersion unsealed = AdapterVersion.newBuilder(v1).setVersion(3).build();
        AdapterVersion sealed = runner.seal(AdapterVersion.newBuilder(unsealed).setSignature(null)
                .setSignatureKeyId(null).build());

        assertThat(verifier.refusal(unsealed)).isPresent();
        assertThat(verifier.refusal(sealed)).isEmpty();
        assertThat(sealed.getTable()).isEqualTo(v1.getTable());
        assertThat(runner.adapterCheck()).get().extracting(c -> c.modelFingerprint())
                .isEqualTo(StandInRunner.FINGERPRINT);
    }
}
