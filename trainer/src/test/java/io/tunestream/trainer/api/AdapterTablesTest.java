package io.tunestream.trainer.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The JSON of an adapter's tables: exported and imported field for field, bad input refused naming the field. */
class AdapterTablesTest {

    private static final AdapterVersion ADAPTER = AdapterVersion.newBuilder().setTask("qa").setVersion(3)
            .setModelFingerprint("sha256:abc").setHiddenSize(2)
            .setTable(Tensor.newBuilder().setName("virtual_tokens.qa").setDtype(DType.FLOAT16).setShape(List.of(2, 2))
                    .setData(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8})).build())
            .setVirtualTokenSplits(List.of(1, 1)).setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING)
            .setDeepPrompt(DeepPromptShape.newBuilder().setLayers(1).setKvHeads(1).setHeadDim(1).build())
            .setTemplateHash("h").setValidationLoss(0.5).setTrainingExamples(42).setRunId("r").setCreatedAtMillis(9)
            .setSignatureKeyId("k").setSignature(ByteBuffer.wrap(new byte[] {9})).build();

    @Test
    void shouldImportWhatItExportsButTheVersionRunAndSignature() {
        AdapterTables exported = AdapterTables.of(ADAPTER);

        AdapterVersion imported = exported.toAdapter("qa");

        assertThat(exported.table().data()).isEqualTo("AQIDBAUGBwg=");
        assertThat(imported).isEqualTo(AdapterVersion.newBuilder(ADAPTER).setVersion(0).setRunId("")
                .setCreatedAtMillis(0).setSignatureKeyId(null).setSignature(null).build());
    }

    @Test
    void shouldRefuseMissingOrUnreadableFieldsNamingThem() {
        AdapterTables exported = AdapterTables.of(ADAPTER);
        AdapterTables noTable = new AdapterTables("qa", 3, "f", 2, List.of(2), null, null, null, null, null, null, null);
        AdapterTables badBase64 = new AdapterTables(null, null, "f", 2, List.of(2), null, null, null, null, null,
                new AdapterTables.Table("FLOAT32", List.of(2, 2), "not base64!"), null);
        AdapterTables badDtype = new AdapterTables(null, null, "f", 2, List.of(2), null, null, null, null, null,
                new AdapterTables.Table("FLOAT64", List.of(2, 2), ""), null);

        assertThat(catchThrowableOfType(() -> noTable.toAdapter("qa"), ApiError.class).body().reason())
                .isEqualTo("the body has no table");
        assertThat(catchThrowableOfType(() -> badBase64.toAdapter("qa"), ApiError.class).body().reason())
                .startsWith("table.data is not base64");
        assertThat(catchThrowableOfType(() -> badDtype.toAdapter("qa"), ApiError.class).body().reason())
                .isEqualTo("table.dtype 'FLOAT64' is none of [FLOAT32, FLOAT16, BFLOAT16]");
        ApiError otherTask = catchThrowableOfType(() -> exported.toAdapter("other"), ApiError.class);
        assertThat(otherTask.status()).isEqualTo(400);
        assertThat(otherTask.body().reason()).isEqualTo("the body is for task 'qa', the path for 'other'");
    }
}
