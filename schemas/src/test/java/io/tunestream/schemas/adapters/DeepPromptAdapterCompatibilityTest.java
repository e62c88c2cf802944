package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.tensor.TensorCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

/**
 * The deep-prompt fields are added BACKWARD-compatibly, and a serving instance still on the schema before
 * them refuses a deep-prompt adapter instead of misreading it: it reads PREFIX_TUNING as P_TUNING (the enum
 * default) and drops {@code deepPrompt}, and then both its table shape check and its signature check fail.
 */
public class DeepPromptAdapterCompatibilityTest {

    private static final int HIDDEN = 8;
    private static final int LAYERS = 2;
    private static final int KV_HEADS = 2;
    private static final int HEAD_DIM = 4;
    private static final int WIDTH = 2 * LAYERS * KV_HEADS * HEAD_DIM;
    private static final int ROWS = 3;
    private static final KeyPair KEYS = AdapterKeys.generate();

    /** The AdapterVersion schema before the deep-prompt fields, VirtualPromptStyle without PREFIX_TUNING. */
    public static Schema previous() throws IOException {
        try (InputStream in = DeepPromptAdapterCompatibilityTest.class
                .getResourceAsStream("/previous-schemas/AdapterVersion-before-deep-prompts.avsc")) {
            var parser = new Schema.Parser();
            parser.addTypes(Map.of(Tensor.getClassSchema().getFullName(), Tensor.getClassSchema()));
            return parser.parse(in);
        }
    }

    private static AdapterVersion deepAdapter() {
        float[] values = new float[ROWS * WIDTH];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 7) * 0.125f - 0.25f;
        }
        AdapterVersion unsigned = AdapterVersion.newBuilder().setTask("squad").setVersion(2)
                .setModelFingerprint("model-a").setHiddenSize(HIDDEN)
                .setTable(TensorCodec.encodeMatrix("deep_prompt", values, ROWS, WIDTH, DType.FLOAT32))
                .setVirtualTokenSplits(List.of(ROWS)).setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING)
                .setDeepPrompt(new DeepPromptShape(LAYERS, KV_HEADS, HEAD_DIM)).build();
        return new AdapterSigner("trainer", KEYS.getPrivate()).sign(unsigned);
    }

    /** What a reader on {@code previous} makes of {@code adapter}, as the generated class of today holds it. */
    private static AdapterVersion asReadBy(Schema previous, AdapterVersion adapter) throws IOException {
        var written = new ByteArrayOutputStream();
        var encoder = EncoderFactory.get().binaryEncoder(written, null);
        new SpecificDatumWriter<>(AdapterVersion.class).write(adapter, encoder);
        encoder.flush();
        GenericRecord old = new GenericDatumReader<GenericRecord>(AdapterVersion.getClassSchema(), previous)
                .read(null, DecoderFactory.get().binaryDecoder(written.toByteArray(), null));
        // re-encoded with the old schema and decoded into today's class: every field the old reader had
        var rewritten = new ByteArrayOutputStream();
        var oldEncoder = EncoderFactory.get().binaryEncoder(rewritten, null);
        new GenericDatumWriter<GenericRecord>(previous, GenericData.get()).write(old, oldEncoder);
        oldEncoder.flush();
        return new SpecificDatumReader<AdapterVersion>(previous, AdapterVersion.getClassSchema())
                .read(null, DecoderFactory.get().binaryDecoder(rewritten.toByteArray(), null));
    }

    @Test
    void shouldReadAdapterVersionsWrittenBeforeTheDeepPromptFields() throws IOException {
        var result = SchemaCompatibility.checkReaderWriterCompatibility(AdapterVersion.getClassSchema(), previous());

        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
    }

    @Test
    void shouldMakeAnOlderReaderTakeADeepPromptForPTuningWithoutItsShape() throws IOException {
        AdapterVersion seenByOld = asReadBy(previous(), deepAdapter());

        assertThat(seenByOld.getVirtualPromptStyle()).isEqualTo(VirtualPromptStyle.P_TUNING);
        assertThat(seenByOld.getDeepPrompt()).isNull();
        assertThat(seenByOld.getTable().getShape()).containsExactly(ROWS, WIDTH);
    }

    @Test
    void shouldBeRefusedByTheChecksOfAnOlderServingInstance() throws IOException {
        AdapterVersion seenByOld = asReadBy(previous(), deepAdapter());
        // the old check had no decoder shape; for a table without deepPrompt today's check is the old one
        var oldCheck = new AdapterCheck("model-a", HIDDEN);
        var oldVerifier = AdapterVerifier.trusting(Map.of("trainer", KEYS.getPublic()));

        assertThat(oldCheck.refusal(seenByOld)).hasValueSatisfying(refusal -> {
            assertThat(refusal.reason()).isEqualTo("shape");
            assertThat(refusal.message()).isEqualTo("adapter squad v2: table shape [3, 32] is not [3, 8] "
                    + "(sum of virtualTokenSplits [3] × hidden size)");
        });
        // the signature covers PREFIX_TUNING and the deep shape: the old reader's P_TUNING bytes do not verify
        assertThat(oldVerifier.refusal(seenByOld)).hasValueSatisfying(
                refusal -> assertThat(refusal.reason()).isEqualTo("signature"));
    }

    @Test
    void shouldBeAcceptedByAnUpgradedServingInstanceOfTheSameDecoder() {
        AdapterVersion adapter = deepAdapter();

        assertThat(new AdapterCheck("model-a", HIDDEN, new AdapterCheck.Decoder(LAYERS, KV_HEADS, HEAD_DIM))
                .refusal(adapter)).isEmpty();
        assertThat(AdapterVerifier.trusting(Map.of("trainer", KEYS.getPublic())).refusal(adapter)).isEmpty();
    }

    @Test
    void shouldCoverTheDeepShapeInTheCanonicalBytes() {
        AdapterVersion adapter = deepAdapter();
        AdapterVersion otherShape = AdapterVersion.newBuilder(adapter)
                .setDeepPrompt(new DeepPromptShape(LAYERS * 2, KV_HEADS / 2, HEAD_DIM)).build();
        AdapterVersion noShape = AdapterVersion.newBuilder(adapter).setDeepPrompt(null).build();

        assertThat(AdapterCanonicalBytes.of(otherShape, "trainer")).isNotEqualTo(AdapterCanonicalBytes.of(adapter, "trainer"));
        byte[] deepBytes = AdapterCanonicalBytes.of(adapter, "trainer");
        byte[] tableBytes = AdapterCanonicalBytes.of(noShape, "trainer");
        assertThat(deepBytes).hasSize(tableBytes.length + 12);
        // after the table's bytes: i32 layers, kvHeads, headDim, big-endian
        assertThat(java.util.Arrays.copyOfRange(deepBytes, tableBytes.length, deepBytes.length))
                .containsExactly(0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4);
        assertThat(AdapterVerifier.trusting(Map.of("trainer", KEYS.getPublic())).refusal(otherShape))
                .hasValueSatisfying(refusal -> assertThat(refusal.reason()).isEqualTo("signature"));
    }
}
