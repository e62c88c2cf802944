package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.tensor.TensorCodec;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterSignaturesTest {

    private static final KeyPair OLD = AdapterKeys.generate();
    private static final KeyPair NEW = AdapterKeys.generate();
    private final AdapterVerifier verifier = AdapterVerifier.trusting(Map.of("old", OLD.getPublic(),
            "new", NEW.getPublic()));

    private static AdapterVersion adapter(String task, int version) {
        return AdapterVersion.newBuilder().setTask(task).setVersion(version).setModelFingerprint("model-a")
                .setHiddenSize(2).setTemplateHash("hash")
                .setTable(TensorCodec.encodeMatrix("t", new float[] {0.5f, -1f, 2f, 0.25f}, 2, 2, DType.FLOAT32))
                .setVirtualTokenSplits(List.of(2)).setVirtualPromptStyle(VirtualPromptStyle.P_TUNING).build();
    }

    @Test
    void shouldAcceptAVersionSignedWithATrustedKey() {
        AdapterVersion signed = new AdapterSigner("new", NEW.getPrivate()).sign(adapter("squad", 3));

        assertThat(signed.getSignatureKeyId()).isEqualTo("new");
        assertThat(signed.getSignature().remaining()).isEqualTo(64);
        assertThat(verifier.refusal(signed)).isEmpty();
    }

    @Test
    void shouldAcceptVersionsOfBothTrustedKeysDuringARotation() {
        assertThat(verifier.refusal(new AdapterSigner("old", OLD.getPrivate()).sign(adapter("squad", 3)))).isEmpty();
        assertThat(verifier.refusal(new AdapterSigner("new", NEW.getPrivate()).sign(adapter("squad", 4)))).isEmpty();
    }

    @Test
    void shouldRefuseAVersionOfAKeyNoLongerTrusted() {
        AdapterVersion signed = new AdapterSigner("old", OLD.getPrivate()).sign(adapter("squad", 3));

        var refusal = AdapterVerifier.trusting(Map.of("new", NEW.getPublic())).refusal(signed);

        assertThat(refusal).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("unknown_key");
        assertThat(refusal.get().message()).contains("key 'old'").contains("[new]");
    }

    @Test
    void shouldRefuseASignedTableReplayedUnderAnotherVersionOrTask() {
        AdapterVersion signed = new AdapterSigner("new", NEW.getPrivate()).sign(adapter("squad", 3));

        AdapterVersion otherVersion = AdapterVersion.newBuilder(signed).setVersion(4).build();
        AdapterVersion otherTask = AdapterVersion.newBuilder(signed).setTask("news").build();

        assertThat(verifier.refusal(otherVersion)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
        assertThat(verifier.refusal(otherTask)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
    }

    @Test
    void shouldRefuseAChangedTableOrASignatureReattributedToAnotherTrustedKey() {
        AdapterVersion signed = new AdapterSigner("new", NEW.getPrivate()).sign(adapter("squad", 3));
        AdapterVersion tampered = AdapterVersion.newBuilder(signed).setTable(TensorCodec.encodeMatrix("t",
                new float[] {0.5f, -1f, 2f, 0.5f}, 2, 2, DType.FLOAT32)).build();
        AdapterVersion reattributed = AdapterVersion.newBuilder(signed).setSignatureKeyId("old").build();

        assertThat(verifier.refusal(tampered)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
        assertThat(verifier.refusal(reattributed)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
    }

    @Test
    void shouldRefuseMalformedSignatureBytesAsABadSignature() {
        AdapterVersion garbage = AdapterVersion.newBuilder(adapter("squad", 3)).setSignatureKeyId("new")
                .setSignature(ByteBuffer.wrap(new byte[] {1, 2, 3})).build();
        AdapterVersion keyIdOnly = AdapterVersion.newBuilder(adapter("squad", 3)).setSignatureKeyId("new").build();

        assertThat(verifier.refusal(garbage)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
        assertThat(verifier.refusal(keyIdOnly)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("signature");
    }

    @Test
    void shouldRefuseUnsignedUnlessTheMigrationSettingAcceptsThem() {
        AdapterVersion unsigned = adapter("squad", 3);

        assertThat(verifier.refusal(unsigned)).get().extracting(AdapterCheck.Refusal::reason).isEqualTo("unsigned");
        assertThat(verifier.acceptingUnsigned(true).refusal(unsigned)).isEmpty();
        AdapterVersion badlySigned = AdapterVersion.newBuilder(new AdapterSigner("new", NEW.getPrivate())
                .sign(adapter("squad", 3))).setVersion(9).build();
        assertThat(verifier.acceptingUnsigned(true).refusal(badlySigned)).isPresent();
    }

    @Test
    void shouldPassEverythingOnlyWhenTurnedOff() {
        assertThat(AdapterVerifier.off().refusal(adapter("squad", 3))).isEmpty();
        assertThatThrownBy(() -> AdapterVerifier.trusting(Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no trusted public key");
    }

    @Test
    void shouldReadPemAndRawKeyFilesWrittenForTheJdkKeyPair(@TempDir Path dir) throws Exception {
        KeyPair pair = AdapterKeys.generate();
        AdapterKeys.writePem(pair.getPrivate(), dir.resolve("trainer.pem"));
        AdapterKeys.writePem(pair.getPublic(), dir.resolve("trainer.pub.pem"));
        byte[] x509 = pair.getPublic().getEncoded();
        Files.write(dir.resolve("trainer.pub.raw"), java.util.Arrays.copyOfRange(x509, x509.length - 32, x509.length));
        byte[] pkcs8 = pair.getPrivate().getEncoded();
        Files.write(dir.resolve("trainer.raw"), java.util.Arrays.copyOfRange(pkcs8, pkcs8.length - 32, pkcs8.length));

        AdapterVersion pemSigned = AdapterSigner.fromFile("k", dir.resolve("trainer.pem")).sign(adapter("squad", 1));
        AdapterVersion rawSigned = AdapterSigner.fromFile("k", dir.resolve("trainer.raw")).sign(adapter("squad", 1));

        assertThat(Files.readString(dir.resolve("trainer.pub.pem"))).startsWith("-----BEGIN PUBLIC KEY-----\n");
        for (String publicFile : List.of("trainer.pub.pem", "trainer.pub.raw")) {
            var fromFile = AdapterVerifier.trustingFiles(Map.of("k", dir.resolve(publicFile)), false);
            assertThat(fromFile.refusal(pemSigned)).as(publicFile).isEmpty();
            assertThat(fromFile.refusal(rawSigned)).as(publicFile).isEmpty();
        }
    }

    @Test
    void shouldParseTrustedKeysAsIdEqualsPathEntries() {
        assertThat(AdapterVerifier.parseTrustedKeys(" a=/k/a.pem, b=/k/b.pem ,"))
                .containsExactly(Map.entry("a", Path.of("/k/a.pem")), Map.entry("b", Path.of("/k/b.pem")));
        assertThatThrownBy(() -> AdapterVerifier.parseTrustedKeys("a=/k/a.pem,/k/b.pem"))
                .hasMessage("trusted key entry '/k/b.pem' is not keyId=path");
        assertThatThrownBy(() -> AdapterVerifier.parseTrustedKeys("a=/k/a.pem,a=/k/b.pem"))
                .hasMessage("trusted key id 'a' is given twice");
    }

    @Test
    void shouldNameTheFileOfAnUnreadableKey(@TempDir Path dir) throws Exception {
        Path bogus = Files.writeString(dir.resolve("bogus.pem"), "not a key");

        assertThatThrownBy(() -> AdapterKeys.readPublicKey(bogus))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(bogus.toString()).hasMessageContaining("neither PEM");
    }
}
