package io.tunestream.serving.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.serde.AvroBinarySerde;
import java.lang.management.ManagementFactory;
import java.util.Optional;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzz target of the adapter check: any bytes, read as the Avro binary of an {@link AdapterVersion}
 * (as serving's adapter store reads them), are refused by the reader with a {@link
 * SerializationException}, refused by {@link AdapterCheck} with a reason, or accepted — and an
 * accepted adapter decodes to exactly the table the model needs (rows = sum of positive splits,
 * hidden-size columns, finite values), so nothing downstream meets a NaN or a shape surprise;
 * reading never allocates more than a few times the largest record, whatever the bytes declare.
 *
 * <p>Seeds ({@code AdapterCheckFuzzTestInputs/}) are adapters as the trainer publishes them
 * (float32, fp16, bf16) and the refusals of the serving tests.
 */
@Timeout(30) // per input; the first one also pays for Jazzer's agent and class loading on a busy machine
class AdapterCheckFuzzTest {

    static final ServingModelInfo MODEL = new ServingModelInfo("fuzz-model-sha256", 8, 128);
    private static final AvroBinarySerde<AdapterVersion> SERDE =
            new AvroBinarySerde<>(AdapterVersion.class, AdapterVersion.getClassSchema());

    /**
     * What reading one record may allocate, whatever lengths it declares: a few times the largest
     * record (Avro allocates a declared array block before reading it).
     */
    private static final long MAX_ALLOCATED_BYTES = 8L * Topics.LARGE_MESSAGE_BYTES;

    @FuzzTest(maxDuration = "3m")
    void anyAdapterRecordIsAcceptedWhole(byte[] input) {
        AdapterVersion adapter;
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long allocatedBefore = threads.getCurrentThreadAllocatedBytes();
        try {
            adapter = SERDE.decode(input);
        } catch (SerializationException e) {
            assertThat(e).hasMessageStartingWith("cannot read AdapterVersion from " + input.length + " bytes");
            return;
        } finally {
            assertThat(threads.getCurrentThreadAllocatedBytes() - allocatedBefore)
                    .as("bytes allocated to read %d bytes", input.length).isLessThanOrEqualTo(MAX_ALLOCATED_BYTES);
        }
        Optional<AdapterCheck.Refusal> refusal = new AdapterCheck(MODEL.fingerprint(), MODEL.hiddenSize()).refusal(adapter);
        if (refusal.isPresent()) {
            assertThat(refusal.get().reason()).isNotBlank();
            assertThat(refusal.get().message()).startsWith("adapter " + adapter.getTask() + " v" + adapter.getVersion());
            return;
        }
        assertThat(adapter.getVirtualTokenSplits()).as("splits of an accepted adapter").allMatch(split -> split >= 1);
        long rows = adapter.getVirtualTokenSplits().stream().mapToLong(Integer::longValue).sum();
        float[] values = TensorCodec.decode(adapter.getTable());
        assertThat((long) values.length).as("table of an accepted adapter").isEqualTo(rows * MODEL.hiddenSize());
        for (int i = 0; i < values.length; i++) {
            assertThat(Float.isFinite(values[i])).as("element %d of an accepted adapter is %s", i, values[i]).isTrue();
        }
        // what serving's model answerer then builds from it
        VirtualTokenTable table = new VirtualTokenTable(adapter.getTask(), adapter.getTable().getShape().get(0),
                adapter.getHiddenSize(), values, adapter.getModelFingerprint());
        assertThat((long) table.rows()).isEqualTo(rows);
    }
}
