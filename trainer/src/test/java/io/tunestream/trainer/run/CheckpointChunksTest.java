package io.tunestream.trainer.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.ResumeState;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.testing.Fixtures;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CheckpointChunksTest {

    private static final int LIMIT = 64 * 1024;

    private static AdapterCheckpoint head() {
        return AdapterCheckpoint.newBuilder().setTask("qa").setVersion(3).setRunId("run-3").setModelFingerprint("m")
                .setVirtualPromptStyle(VirtualPromptStyle.P_TUNING).setEncoderType(PromptEncoderType.MLP)
                .setParameters(List.of(TensorCodec.encode("w", new float[] {1, 2, 3, 4}, List.of(2, 2),
                        io.tunestream.schemas.DType.FLOAT32)))
                .setOptimizerState(List.of()).setStep(10).setEpoch(2).setCreatedAtMillis(5).build();
    }

    private static byte[] state(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    private static ExactCheckpoint exact(byte[] state, String id, int previousPieces) {
        return new ExactCheckpoint(head(), state, id, "inputs", false, previousPieces, false);
    }

    /** Through the Avro binary encoding, as a consumer gets a record back. */
    private static AdapterCheckpoint roundTrip(AdapterCheckpoint record) {
        return decode(encode(record));
    }

    private static byte[] encode(AdapterCheckpoint record) {
        return Fixtures.avroBytes(record);
    }

    private static AdapterCheckpoint decode(byte[] bytes) {
        return Fixtures.avroRecord(bytes, AdapterCheckpoint.class);
    }

    private static List<AdapterCheckpoint> pieces(List<CheckpointChunks.Keyed> records) {
        return records.stream().map(CheckpointChunks.Keyed::value).filter(Objects::nonNull)
                .filter(CheckpointChunks::isPiece).map(CheckpointChunksTest::roundTrip).toList();
    }

    private static AdapterCheckpoint headOf(List<CheckpointChunks.Keyed> records) {
        return roundTrip(records.get(records.size() - 1).value());
    }

    @Test
    void shouldSplitAStateLargerThanARecordIntoPiecesThatEachFitAndPutThemBackTogether() {
        byte[] state = state(300_000, 1);

        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state, "run-3@10", 0), LIMIT);

        // 300 000 bytes in pieces of 64 KiB - 8 KiB = 57 344 bytes: 6 pieces, then the head
        assertThat(records).extracting(CheckpointChunks.Keyed::key).containsExactly("qa/resume/0", "qa/resume/1",
                "qa/resume/2", "qa/resume/3", "qa/resume/4", "qa/resume/5", "qa");
        for (CheckpointChunks.Keyed r : records) {
            assertThat(encode(r.value()).length).as(r.key()).isLessThanOrEqualTo(LIMIT - CheckpointChunks.RECORD_OVERHEAD_BYTES + 1024);
        }
        AdapterCheckpoint head = headOf(records);
        ResumeState descriptor = head.getResume();
        assertThat(descriptor.getChunkCount()).isEqualTo(6);
        assertThat(descriptor.getTotalBytes()).isEqualTo(300_000);
        assertThat(descriptor.getChunkIndex()).isNull();
        assertThat(descriptor.getData()).isNull();
        assertThat(head.getParameters()).hasSize(1);
        List<AdapterCheckpoint> shuffled = new ArrayList<>(pieces(records));
        Collections.shuffle(shuffled, new Random(7));

        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(head, shuffled);

        assertThat(back.value()).hasValueSatisfying(bytes -> assertThat(bytes).isEqualTo(state));
    }

    @Test
    void shouldWriteASmallStateInOnePiece() {
        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state(100, 2), "run-3@10", 0), LIMIT);

        assertThat(records).extracting(CheckpointChunks.Keyed::key).containsExactly("qa/resume/0", "qa");
        assertThat(CheckpointChunks.reassemble(headOf(records), pieces(records)).value()).isPresent();
    }

    @Test
    void shouldTombstoneThePiecesAnOlderLargerCheckpointLeftAboveTheNewOnes() {
        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state(100_000, 3), "run-4@20", 6), LIMIT);

        assertThat(records).extracting(CheckpointChunks.Keyed::key).containsExactly("qa/resume/0", "qa/resume/1",
                "qa/resume/2", "qa/resume/3", "qa/resume/4", "qa/resume/5", "qa");
        assertThat(records.subList(2, 6)).extracting(CheckpointChunks.Keyed::value).containsOnlyNulls();
    }

    @Test
    void shouldRefuseAStateWithAMissingPieceNamingIt() {
        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state(300_000, 4), "run-3@10", 0), LIMIT);
        List<AdapterCheckpoint> pieces = new ArrayList<>(pieces(records));
        pieces.remove(2);

        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(headOf(records), pieces);

        assertThat(back.value()).isEmpty();
        assertThat(back.problem()).isEqualTo("checkpoint v3 (run-3@10): missing piece(s) [2] of 6");
    }

    @Test
    void shouldRefuseAStateWithACorruptPieceByItsHash() {
        byte[] state = state(300_000, 5);
        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state, "run-3@10", 0), LIMIT);
        List<AdapterCheckpoint> pieces = new ArrayList<>(pieces(records));
        AdapterCheckpoint third = pieces.get(3);
        byte[] data = new byte[third.getResume().getData().remaining()];
        third.getResume().getData().duplicate().get(data);
        data[100] ^= 0x01;
        third.getResume().setData(ByteBuffer.wrap(data));

        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(headOf(records), pieces);

        assertThat(back.value()).isEmpty();
        assertThat(back.problem()).startsWith("checkpoint v3 (run-3@10): SHA-256 of the reassembled state is ")
                .endsWith(", the head says " + CheckpointChunks.sha256(state) + " (a corrupt piece)");
    }

    @Test
    void shouldRefuseAStateWhosePiecesAreShorterThanTheHeadSays() {
        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(exact(state(1000, 6), "run-3@10", 0), LIMIT);
        AdapterCheckpoint piece = pieces(records).get(0);
        piece.getResume().setData(ByteBuffer.wrap(new byte[999]));

        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(headOf(records), List.of(piece));

        assertThat(back.problem()).isEqualTo("checkpoint v3 (run-3@10): its 1 pieces hold 999 bytes, the head says 1000");
    }

    @Test
    void shouldIgnoreStalePiecesOfAnotherCheckpointAndReportTheMissingOnes() {
        List<CheckpointChunks.Keyed> older = CheckpointChunks.records(exact(state(300_000, 7), "run-2@5", 0), LIMIT);
        List<CheckpointChunks.Keyed> newer = CheckpointChunks.records(exact(state(300_000, 8), "run-3@10", 6), LIMIT);
        // what compaction may leave if the newer checkpoint's piece 1 were lost: the older one's under that key
        List<AdapterCheckpoint> mixed = new ArrayList<>(pieces(newer));
        mixed.set(1, pieces(older).get(1));

        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(headOf(newer), mixed);

        assertThat(back.problem()).isEqualTo("checkpoint v3 (run-3@10): missing piece(s) [1] of 6");
    }

    @Test
    void shouldSayWhenAHeadHasNoExactState() {
        CheckpointRecords.Result<byte[]> back = CheckpointChunks.reassemble(head(), List.of());

        assertThat(back.problem()).isEqualTo("checkpoint v3 (run run-3) holds no exact state (written before exact resume)");
    }

    @Test
    void shouldLeaveTheTensorsOutOfAHeadThatWouldNotFit() {
        float[] big = new float[20_000];
        AdapterCheckpoint heavy = AdapterCheckpoint.newBuilder(head()).setParameters(List.of(TensorCodec.encode("w", big,
                List.of(20_000), io.tunestream.schemas.DType.FLOAT32))).build();

        List<CheckpointChunks.Keyed> records = CheckpointChunks.records(new ExactCheckpoint(heavy, state(10, 9), "id",
                "inputs", true, 0, false), LIMIT);

        assertThat(headOf(records).getParameters()).isEmpty();
        assertThat(encode(records.get(records.size() - 1).value()).length).isLessThan(LIMIT);
    }

    @Test
    void shouldRefuseALimitThatLeavesNoRoomForTheState() {
        assertThatThrownBy(() -> CheckpointChunks.records(exact(state(10, 10), "id", 0), 16 * 1024))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("checkpoint records of at most 16384 bytes leave no room for the state; the topic's "
                        + "max.message.bytes must be at least 32768");
    }
}
