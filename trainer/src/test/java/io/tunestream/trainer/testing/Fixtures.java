package io.tunestream.trainer.testing;

import io.tunestream.schemas.DatasetSplit;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.PromptEncoderType;
import io.tunestream.schemas.RetrainingSettings;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Templates and examples of a trivial task, small enough for tiny-gpt2 runs of a few seconds. */
public final class Fixtures {

    private Fixtures() {
    }

    /** The checkout root (surefire and failsafe set {@code tunestream.home}). */
    public static Path home() {
        return Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath().normalize();
    }

    public static Path tinyGpt2() {
        return home().resolve("models/tiny-gpt2");
    }

    /** Small MLP p-tuning, 3 epochs, batches of 4, learning rate high enough to move in a few steps. */
    public static TuningSettings.Builder smallTuning() {
        return TuningSettings.newBuilder()
                .setVirtualPromptStyle(VirtualPromptStyle.P_TUNING)
                .setEncoderType(PromptEncoderType.MLP)
                .setEncoderHidden(16)
                .setEncoderLayers(2)
                .setLearningRate(0.01)
                .setWarmupSteps(1)
                .setMaxEpochs(3)
                .setMicroBatchSize(4)
                .setGlobalBatchSize(4)
                .setPatience(3)
                .setSeed(7);
    }

    public static RetrainingSettings.Builder retraining(int minNewExamples) {
        return RetrainingSettings.newBuilder().setMinNewExamples(minNewExamples).setMaxDelayMillis(600_000)
                .setValidationFraction(0.25f).setMinImprovement(0.0);
    }

    /** {@code <|VIRTUAL_PROMPT_0|> Q: {question}\nA:{answer}} with 4 virtual tokens. */
    public static TaskTemplate.Builder template(String task) {
        return TaskTemplate.newBuilder()
                .setTask(task)
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> Q: {question}\nA:{answer}")
                .setPromptTemplateFields(List.of("question", "answer"))
                .setAnswerField("answer")
                .setAnswerOnlyLoss(true)
                .setTruncateField("question")
                .setVirtualTokenSplits(List.of(4))
                .setTotalVirtualTokens(4)
                .setMaxSeqLength(64)
                .setTuning(smallTuning().build())
                .setRetraining(retraining(4).build());
    }

    public static LabelledExample example(String task, String id, String question, String answer, DatasetSplit split) {
        return LabelledExample.newBuilder()
                .setExampleId(id)
                .setTask(task)
                .setFields(Map.of("question", question, "answer", answer))
                .setSplit(split)
                .setSource("test")
                .build();
    }

    /** The i-th example of a trivial task: the answer is always " yes". */
    public static LabelledExample yes(String task, int i, DatasetSplit split) {
        return example(task, task + "-" + split + "-" + i, "is " + i + " a number?", " yes", split);
    }

    /** A record's Avro binary encoding (what a record value holds after the registry's header). */
    @SuppressWarnings("unchecked")
    public static <T extends SpecificRecord> byte[] avroBytes(T record) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new SpecificDatumWriter<>((Class<T>) record.getClass()).write(record, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #avroBytes} read back as {@code type}. */
    public static <T extends SpecificRecord> T avroRecord(byte[] bytes, Class<T> type) {
        try {
            return new SpecificDatumReader<>(type).read(null, DecoderFactory.get().binaryDecoder(bytes, null));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
