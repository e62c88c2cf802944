package io.tunestream.trainer.run;

import io.tunestream.model.tune.AdamW;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.Topics;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.tensor.TensorCodec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A run's {@link TaskCheckpoint} as the head {@link AdapterCheckpoint} record on {@code adapter-checkpoints}
 * and back to parameters for a warm start.
 *
 * <p>{@code parameters} holds the best parameters (those of the published table), one FLOAT32
 * tensor per encoder parameter named as in the encoder's layout (e.g. {@code mlp.0.weight});
 * {@code optimizerState} holds the AdamW moments of the run's last step as {@code adam.m.<name>}
 * and {@code adam.v.<name>}, rounded to float32: for inspection and for readers of the previous schema.
 * The exact state a run resumes from (parameters, moments, schedule step, data position, as doubles) is
 * the checkpoint's {@code resume} state, split over records by {@link CheckpointChunks}.
 *
 * <p>The head must fit in one record of the topic: when the moments would not fit beside the parameters
 * they are left out, parameters too big as FLOAT32 are stored as FLOAT16 (here, against
 * {@link Topics#LARGE_MESSAGE_BYTES}), and {@link CheckpointChunks#records} drops what still does not fit the
 * topic's actual limit.
 */
public final class CheckpointRecords {

    private CheckpointRecords() {
    }

    public static AdapterCheckpoint toRecord(TaskCheckpoint checkpoint, ParameterLayout layout, int version, String runId,
                                             String modelFingerprint, VirtualPromptStyle style,
                                             PromptEncoderType encoderType, long nowMillis) {
        double[] best = checkpoint.bestParameters();
        AdamW.State optimizer = checkpoint.optimizer();
        double[] m = optimizer.firstMoment();
        double[] v = optimizer.secondMoment();
        long float32Bytes = (long) layout.size() * Float.BYTES;
        // room for the record's other fields and the tensor names
        long budget = Topics.LARGE_MESSAGE_BYTES - 1024L * 1024;
        DType parameterType = float32Bytes <= budget ? DType.FLOAT32 : DType.FLOAT16;
        boolean withMoments = 3 * float32Bytes <= budget;
        List<Tensor> parameters = new ArrayList<>();
        List<Tensor> moments = new ArrayList<>();
        for (ParameterLayout.Tensor t : layout.tensors()) {
            parameters.add(slice(t.name(), t, best, parameterType));
            if (withMoments) {
                moments.add(slice("adam.m." + t.name(), t, m, DType.FLOAT32));
                moments.add(slice("adam.v." + t.name(), t, v, DType.FLOAT32));
            }
        }
        double bestLoss = checkpoint.earlyStopping().best();
        return AdapterCheckpoint.newBuilder()
                .setTask(checkpoint.task())
                .setVersion(version)
                .setRunId(runId)
                .setModelFingerprint(modelFingerprint)
                .setVirtualPromptStyle(style)
                .setEncoderType(encoderType)
                .setParameters(parameters)
                .setOptimizerState(moments)
                .setStep(checkpoint.step())
                .setEpoch(checkpoint.epoch())
                .setBestValidationLoss(Double.isFinite(bestLoss) ? bestLoss : null)
                .setCreatedAtMillis(nowMillis)
                .build();
    }

    /**
     * The parameters of {@code checkpoint} laid out as {@code layout}, or empty (with why) when the
     * tensors do not match the layout's names and shapes, e.g. after a change of encoder width.
     */
    public static Result<double[]> parameters(AdapterCheckpoint checkpoint, ParameterLayout layout) {
        Map<String, ParameterLayout.Tensor> expected = layout.byName();
        if (checkpoint.getParameters().size() != expected.size()) {
            return Result.no("checkpoint v" + checkpoint.getVersion() + " has " + checkpoint.getParameters().size()
                    + " parameter tensors, the encoder has " + expected.size());
        }
        double[] values = new double[layout.size()];
        for (Tensor tensor : checkpoint.getParameters()) {
            ParameterLayout.Tensor slot = expected.get(tensor.getName());
            if (slot == null) {
                return Result.no("checkpoint v" + checkpoint.getVersion() + " has parameter '" + tensor.getName()
                        + "' the encoder does not have");
            }
            List<Integer> shape = Arrays.stream(slot.shape()).boxed().toList();
            if (!shape.equals(tensor.getShape())) {
                return Result.no("checkpoint v" + checkpoint.getVersion() + ": parameter '" + tensor.getName()
                        + "' has shape " + tensor.getShape() + ", the encoder's is " + shape);
            }
            float[] data = TensorCodec.decode(tensor);
            for (int i = 0; i < data.length; i++) {
                values[slot.offset() + i] = data[i];
            }
        }
        return Result.of(values);
    }

    /** A value or why there is none. */
    public record Result<T>(Optional<T> value, String problem) {
        static <T> Result<T> of(T value) {
            return new Result<>(Optional.of(value), "");
        }

        static <T> Result<T> no(String problem) {
            return new Result<>(Optional.empty(), problem);
        }
    }

    private static Tensor slice(String name, ParameterLayout.Tensor t, double[] all, DType dtype) {
        float[] values = new float[t.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) all[t.offset() + i];
        }
        return TensorCodec.encode(name, values, Arrays.stream(t.shape()).boxed().toList(), dtype);
    }
}
