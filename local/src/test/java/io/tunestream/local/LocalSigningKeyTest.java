package io.tunestream.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.adapters.AdapterVerifier;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalSigningKeyTest {

    private static AdapterVersion adapter() {
        return AdapterVersion.newBuilder().setTask("squad").setVersion(1).setModelFingerprint("m").setHiddenSize(1)
                .setTable(TensorCodec.encodeMatrix("t", new float[] {1f}, 1, 1, DType.FLOAT32))
                .setVirtualTokenSplits(List.of(1)).build();
    }

    @Test
    void shouldGenerateAPairOnceThatServingsSettingTrustsAcrossRuns(@TempDir Path data) throws Exception {
        LocalSigningKey first = LocalSigningKey.in(data.resolve("keys"));
        String privatePem = Files.readString(first.privateKey());
        AdapterVersion signed = first.signer().sign(adapter());

        LocalSigningKey again = LocalSigningKey.in(data.resolve("keys"));
        var trusted = AdapterVerifier.trustingFiles(AdapterVerifier.parseTrustedKeys(again.trustedKeysSetting()), false);

        assertThat(Files.readString(again.privateKey())).as("kept across runs").isEqualTo(privatePem);
        assertThat(trusted.refusal(signed)).isEmpty();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(first.privateKey())))
                .isEqualTo("rw-------");
    }
}
