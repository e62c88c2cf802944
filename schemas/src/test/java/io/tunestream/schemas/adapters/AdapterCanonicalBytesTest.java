package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdapterCanonicalBytesTest {

    private static AdapterVersion adapter(VirtualPromptStyle style) {
        return AdapterVersion.newBuilder().setTask("qa").setVersion(258).setModelFingerprint("fp")
                .setHiddenSize(2).setTemplateHash("h")
                .setTable(new Tensor("ignored-name", DType.FLOAT16, List.of(1, 2),
                        ByteBuffer.wrap(new byte[] {0x00, 0x3c, (byte) 0xff, 0x7b})))
                .setVirtualTokenSplits(List.of(1)).setVirtualPromptStyle(style)
                .setValidationLoss(1.5).setRunId("run-not-signed").setCreatedAtMillis(42).build();
    }

    @Test
    void shouldEncodeEveryCoveredFieldInTheSpecifiedOrderByteForByte() {
        // written by hand from the specification in AdapterCanonicalBytes' javadoc
        String expected = ""
                + "0000001f" + hex("tunestream/adapter-signature/v1")
                + "00000002" + hex("qa")
                + "00000102"                                   // version 258
                + "00000002" + hex("fp")
                + "00000001" + hex("h")
                + "00000008" + hex("P_TUNING")
                + "00000002" + hex("k1")
                + "00000002"                                   // hidden size
                + "00000001" + "00000001"                      // splits [1]
                + "00000007" + hex("FLOAT16")
                + "00000002" + "00000001" + "00000002"         // shape [1, 2]
                + "00000004" + "003cff7b";                     // data as published

        assertThat(HexFormat.of().formatHex(AdapterCanonicalBytes.of(adapter(VirtualPromptStyle.P_TUNING), "k1")))
                .isEqualTo(expected);
    }

    @Test
    void shouldEncodeAnAbsentPromptStyleAsTheEmptyString() {
        String bytes = HexFormat.of().formatHex(AdapterCanonicalBytes.of(adapter(null), "k1"));

        assertThat(bytes).contains("00000001" + hex("h") + "00000000" + "00000002" + hex("k1"));
    }

    @Test
    void shouldNotCoverRunMetadataOrTheTensorName() {
        AdapterVersion other = AdapterVersion.newBuilder(adapter(VirtualPromptStyle.P_TUNING))
                .setValidationLoss(9.0).setRunId("other").setCreatedAtMillis(7)
                .setTable(new Tensor("renamed", DType.FLOAT16, List.of(1, 2),
                        ByteBuffer.wrap(new byte[] {0x00, 0x3c, (byte) 0xff, 0x7b}))).build();

        assertThat(AdapterCanonicalBytes.of(other, "k1"))
                .isEqualTo(AdapterCanonicalBytes.of(adapter(VirtualPromptStyle.P_TUNING), "k1"));
    }

    private static String hex(String ascii) {
        return HexFormat.of().formatHex(ascii.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
}
