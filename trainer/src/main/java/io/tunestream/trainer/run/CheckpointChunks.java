package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.ExampleKey;
import io.tunestream.schemas.ResumeState;
import io.tunestream.schemas.Tensor;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A checkpoint's exact tuning state split over records of {@code adapter-checkpoints} no larger than the
 * topic allows, and put back together with a hash check.
 *
 * <p>Layout on the topic (one transaction, one partition: every key starts with the task, and the topic is
 * partitioned on the task part, {@code TaskPartitioner}): the pieces, keyed {@code <task>/resume/<i>}, then the
 * tombstones of pieces an older, larger checkpoint left at higher indexes, then the head, keyed {@code <task>} as
 * checkpoints always were. Compaction keeps the latest record of each key, so all pieces of the latest checkpoint
 * stay; a piece of another checkpoint that survives is recognised by its {@code checkpointId} and ignored. A reader
 * of the previous schema sees the pieces as checkpoints without parameters of the same version, followed by the
 * head, which it keeps.
 *
 * <p>The head carries {@link ResumeState} without data: the checkpoint id, the number of pieces, the total length
 * and the SHA-256 of the whole. {@link #reassemble} refuses, with the reason, a missing, extra, foreign or
 * corrupt piece; nothing half-read is ever used.
 */
public final class CheckpointChunks {

    /** Encoding of the reassembled bytes: {@code io.tunestream.model.tune.CheckpointCodec}. */
    public static final String FORMAT = "tunestream-task-checkpoint/1";

    /**
     * Room in a record for all but a piece's data: key, headers, the serde's schema id, the record batch
     * framing, and the piece record's strings (task, run id, model fingerprint, checkpoint id, two hashes).
     */
    static final int RECORD_OVERHEAD_BYTES = 8 * 1024;

    private static final String PIECE = ExampleKey.SEPARATOR + "resume" + ExampleKey.SEPARATOR;

    private CheckpointChunks() {
    }

    /** A record to write: a key and a value, null for a tombstone. */
    public record Keyed(String key, AdapterCheckpoint value) {
        public Keyed {
            Objects.requireNonNull(key, "key");
        }
    }

    /** The key of piece {@code index} of {@code task}'s checkpoint. */
    public static String pieceKey(String task, int index) {
        return task + PIECE + index;
    }

    /**
     * The records of {@code checkpoint}, in the order they must be written: pieces, tombstones, head.
     *
     * @param maxRecordBytes the largest record the topic takes ({@code max.message.bytes}, or the producer's
     *                       {@code max.request.size} if smaller)
     */
    public static List<Keyed> records(ExactCheckpoint checkpoint, int maxRecordBytes) {
        if (maxRecordBytes < 4 * RECORD_OVERHEAD_BYTES) {
            throw new IllegalArgumentException("checkpoint records of at most " + maxRecordBytes
                    + " bytes leave no room for the state; the topic's max.message.bytes must be at least "
                    + 4 * RECORD_OVERHEAD_BYTES);
        }
        byte[] state = checkpoint.state();
        int pieceBytes = maxRecordBytes - RECORD_OVERHEAD_BYTES;
        int pieces = Math.max(1, (int) ((state.length + (long) pieceBytes - 1) / pieceBytes));
        AdapterCheckpoint head = fitted(checkpoint.head(), maxRecordBytes);
        String task = head.getTask();
        ResumeState descriptor = ResumeState.newBuilder()
                .setCheckpointId(checkpoint.checkpointId())
                .setFormat(FORMAT)
                .setInputsFingerprint(checkpoint.inputsFingerprint())
                .setFinished(checkpoint.finished())
                .setInProgress(checkpoint.inProgress())
                .setTotalBytes(state.length)
                .setSha256(sha256(state))
                .setChunkCount(pieces)
                .setChunkIndex(null)
                .setData(null)
                .build();
        List<Keyed> records = new ArrayList<>(pieces + 1);
        for (int i = 0; i < pieces; i++) {
            int from = i * pieceBytes;
            int to = Math.min(state.length, from + pieceBytes);
            ResumeState piece = ResumeState.newBuilder(descriptor).setChunkIndex(i)
                    .setData(ByteBuffer.wrap(state, from, to - from).slice()).build();
            records.add(new Keyed(pieceKey(task, i), AdapterCheckpoint.newBuilder(head)
                    .setParameters(List.of()).setOptimizerState(List.of()).setResume(piece).build()));
        }
        for (int i = pieces; i < checkpoint.previousPieces(); i++) {
            records.add(new Keyed(pieceKey(task, i), null));
        }
        records.add(new Keyed(task, AdapterCheckpoint.newBuilder(head).setResume(descriptor).build()));
        return records;
    }

    /**
     * The head's tensors within the record: without the moments when they do not fit beside the parameters, and
     * without the parameters too when those alone do not fit (the exact state holds both).
     */
    private static AdapterCheckpoint fitted(AdapterCheckpoint head, int maxRecordBytes) {
        long budget = maxRecordBytes - RECORD_OVERHEAD_BYTES;
        long parameters = dataBytes(head.getParameters());
        long moments = dataBytes(head.getOptimizerState());
        if (parameters + moments <= budget) {
            return head;
        }
        AdapterCheckpoint.Builder fitted = AdapterCheckpoint.newBuilder(head).setOptimizerState(List.of());
        if (parameters > budget) {
            fitted.setParameters(List.of());
        }
        return fitted.build();
    }

    private static long dataBytes(List<Tensor> tensors) {
        long bytes = 0;
        for (Tensor t : tensors) {
            bytes += t.getData().remaining() + t.getName().length() + 16L * t.getShape().size();
        }
        return bytes;
    }

    /** Whether {@code record} is a piece of a checkpoint's state rather than a head. */
    public static boolean isPiece(AdapterCheckpoint record) {
        return record.getResume() != null && record.getResume().getChunkIndex() != null;
    }

    /**
     * The exact state of {@code head} from {@code pieces} (any records of the task, in any order; pieces of other
     * checkpoints are skipped), or why not.
     */
    public static CheckpointRecords.Result<byte[]> reassemble(AdapterCheckpoint head, Collection<AdapterCheckpoint> pieces) {
        ResumeState descriptor = head.getResume();
        String which = "checkpoint v" + head.getVersion() + " (" + (descriptor == null ? "run " + head.getRunId()
                : descriptor.getCheckpointId()) + ")";
        if (descriptor == null) {
            return CheckpointRecords.Result.no(which + " holds no exact state (written before exact resume)");
        }
        if (!FORMAT.equals(descriptor.getFormat())) {
            return CheckpointRecords.Result.no(which + ": state format '" + descriptor.getFormat()
                    + "' is not " + FORMAT);
        }
        int count = descriptor.getChunkCount();
        long total = descriptor.getTotalBytes();
        if (count < 1 || total < 0 || total > Integer.MAX_VALUE - 8) {
            return CheckpointRecords.Result.no(which + ": " + count + " pieces of " + total + " bytes cannot be read");
        }
        Map<Integer, ByteBuffer> byIndex = new HashMap<>();
        for (AdapterCheckpoint record : pieces) {
            ResumeState piece = record.getResume();
            if (piece == null || piece.getChunkIndex() == null
                    || !descriptor.getCheckpointId().equals(piece.getCheckpointId())) {
                continue;
            }
            int index = piece.getChunkIndex();
            if (index < 0 || index >= count || piece.getData() == null) {
                return CheckpointRecords.Result.no(which + ": piece " + index + " is not one of its " + count
                        + (piece.getData() == null ? " (no data)" : ""));
            }
            byIndex.put(index, piece.getData().duplicate());
        }
        List<Integer> missing = new ArrayList<>();
        long length = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer data = byIndex.get(i);
            if (data == null) {
                missing.add(i);
            } else {
                length += data.remaining();
            }
        }
        if (!missing.isEmpty()) {
            return CheckpointRecords.Result.no(which + ": missing piece(s) " + missing + " of " + count);
        }
        if (length != total) {
            return CheckpointRecords.Result.no(which + ": its " + count + " pieces hold " + length
                    + " bytes, the head says " + total);
        }
        byte[] state = new byte[(int) total];
        ByteBuffer into = ByteBuffer.wrap(state);
        for (int i = 0; i < count; i++) {
            into.put(byIndex.get(i));
        }
        String digest = sha256(state);
        if (!digest.equals(descriptor.getSha256())) {
            return CheckpointRecords.Result.no(which + ": SHA-256 of the reassembled state is " + digest
                    + ", the head says " + descriptor.getSha256() + " (a corrupt piece)");
        }
        return CheckpointRecords.Result.of(state);
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }
}
