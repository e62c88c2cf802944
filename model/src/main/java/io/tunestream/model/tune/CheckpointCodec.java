package io.tunestream.model.tune;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Writes and reads a {@link TaskCheckpoint} as bytes (big-endian, versioned). Doubles are stored
 * bit-exactly, so a resumed run continues with exactly the state that was saved.
 */
public final class CheckpointCodec {

    private static final int MAGIC = 0x54534350; // "TSCP"
    private static final int VERSION = 1;

    private CheckpointCodec() {
    }

    public static byte[] encode(TaskCheckpoint c) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.writeUTF(c.task());
            PromptEncoderConfig e = c.encoder();
            out.writeUTF(e.type().name());
            out.writeInt(e.virtualTokens());
            out.writeInt(e.encoderHidden());
            out.writeInt(e.numLayers());
            out.writeDouble(e.dropout());
            out.writeDouble(e.initStd());
            out.writeUTF(e.init().name());
            out.writeBoolean(e.initText().isPresent());
            if (e.initText().isPresent()) {
                out.writeUTF(e.initText().get());
            }
            out.writeInt(c.hidden());
            TuningConfig t = c.config();
            out.writeDouble(t.lr());
            out.writeDouble(t.minLr());
            out.writeInt(t.warmupSteps());
            out.writeInt(t.maxEpochs());
            out.writeInt(t.microBatch());
            out.writeInt(t.globalBatch());
            out.writeDouble(t.optimizer().beta1());
            out.writeDouble(t.optimizer().beta2());
            out.writeDouble(t.optimizer().epsilon());
            out.writeDouble(t.optimizer().weightDecay());
            out.writeDouble(t.clipping().maxNorm());
            out.writeInt(t.patience());
            out.writeDouble(t.minDelta());
            out.writeLong(t.seed());
            writeDoubles(out, c.parameters());
            writeDoubles(out, c.optimizer().firstMoment());
            writeDoubles(out, c.optimizer().secondMoment());
            out.writeLong(c.optimizer().steps());
            out.writeInt(c.epoch());
            out.writeLong(c.stepInEpoch());
            out.writeDouble(c.epochLossSum());
            EarlyStopping s = c.earlyStopping();
            out.writeDouble(s.best());
            out.writeInt(s.bestEpoch());
            out.writeInt(s.badEpochs());
            writeDoubles(out, c.bestParameters());
            out.writeInt(c.history().size());
            for (EpochResult r : c.history()) {
                out.writeInt(r.epoch());
                out.writeDouble(r.trainLoss());
                out.writeDouble(r.validationLoss());
                out.writeDouble(r.learningRate());
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot encode the checkpoint of task " + c.task(), ex);
        }
        return bytes.toByteArray();
    }

    public static TaskCheckpoint decode(byte[] data) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new IllegalArgumentException("not a Tunestream task checkpoint (magic " + Integer.toHexString(magic) + ")");
            }
            int version = in.readInt();
            if (version != VERSION) {
                throw new IllegalArgumentException("task checkpoint version " + version + " is not supported (expected "
                        + VERSION + ")");
            }
            String task = in.readUTF();
            EncoderType type = EncoderType.valueOf(in.readUTF());
            int virtualTokens = in.readInt();
            int encoderHidden = in.readInt();
            int numLayers = in.readInt();
            double dropout = in.readDouble();
            double initStd = in.readDouble();
            EmbeddingInit init = EmbeddingInit.valueOf(in.readUTF());
            Optional<String> initText = in.readBoolean() ? Optional.of(in.readUTF()) : Optional.empty();
            PromptEncoderConfig encoder = new PromptEncoderConfig(type, virtualTokens, encoderHidden, numLayers, dropout,
                    initStd, init, initText);
            int hidden = in.readInt();
            TuningConfig config = new TuningConfig(in.readDouble(), in.readDouble(), in.readInt(), in.readInt(),
                    in.readInt(), in.readInt(),
                    new AdamW(in.readDouble(), in.readDouble(), in.readDouble(), in.readDouble()),
                    new GradientClipping(in.readDouble()), in.readInt(), in.readDouble(), in.readLong());
            double[] parameters = readDoubles(in);
            AdamW.State optimizer = new AdamW.State(readDoubles(in), readDoubles(in), in.readLong());
            int epoch = in.readInt();
            long stepInEpoch = in.readLong();
            double epochLossSum = in.readDouble();
            double best = in.readDouble();
            int bestEpoch = in.readInt();
            int badEpochs = in.readInt();
            EarlyStopping early = new EarlyStopping(config.patience(), config.minDelta(), best, bestEpoch, badEpochs);
            double[] bestParameters = readDoubles(in);
            int epochs = in.readInt();
            List<EpochResult> history = new ArrayList<>(epochs);
            for (int i = 0; i < epochs; i++) {
                history.add(new EpochResult(in.readInt(), in.readDouble(), in.readDouble(), in.readDouble()));
            }
            if (in.available() != 0) {
                throw new IllegalArgumentException("task checkpoint of " + task + " has " + in.available()
                        + " trailing bytes");
            }
            return new TaskCheckpoint(task, encoder, hidden, config, parameters, optimizer, epoch, stepInEpoch,
                    epochLossSum, early, bestParameters, history);
        } catch (IOException ex) {
            throw new IllegalArgumentException("truncated or corrupt task checkpoint (" + data.length + " bytes)", ex);
        }
    }

    /** Writes atomically: to a temporary file next to {@code file}, then renamed over it. */
    public static void write(TaskCheckpoint c, Path file) {
        try {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            Files.write(tmp, encode(c));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot write the checkpoint of task " + c.task() + " to " + file, ex);
        }
    }

    public static TaskCheckpoint read(Path file) {
        try {
            return decode(Files.readAllBytes(file));
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read task checkpoint " + file, ex);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(ex.getMessage() + " in " + file, ex);
        }
    }

    private static void writeDoubles(DataOutputStream out, double[] values) throws IOException {
        out.writeInt(values.length);
        for (double v : values) {
            out.writeDouble(v);
        }
    }

    private static double[] readDoubles(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new IOException("negative array length " + n);
        }
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = in.readDouble();
        }
        return values;
    }
}
