package io.tunestream.trainer.run;

import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.TaskTemplate;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;

/**
 * What a run trains on, as one SHA-256: the model's fingerprint, the template (its prompt and tuning settings
 * decide the prompts, the encoder and the schedule) and the training and validation examples in the order the run
 * gets them. A checkpoint's state continues exactly only in a run with the same fingerprint: the same examples in
 * the same order give the same shuffles, batches and schedule length.
 */
public final class RunInputs {

    private RunInputs() {
    }

    public static String fingerprint(String modelFingerprint, TaskTemplate template, List<LabelledExample> train,
                                     List<LabelledExample> validation) {
        MessageDigest sha = CheckpointChunks.digest();
        field(sha, "model", modelFingerprint);
        // the Avro record's JSON form: every field, in schema order
        field(sha, "template", template.toString());
        examples(sha, "train", train);
        examples(sha, "validation", validation);
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void examples(MessageDigest sha, String split, List<LabelledExample> examples) {
        field(sha, split, Integer.toString(examples.size()));
        for (LabelledExample e : examples) {
            field(sha, "id", e.getExampleId());
            // sorted: the decoded map's iteration order is not part of the example
            new TreeMap<>(e.getFields()).forEach((name, value) -> {
                field(sha, "name", name);
                field(sha, "value", value);
            });
        }
    }

    /** Length-prefixed, so no two different inputs hash the same bytes. */
    private static void field(MessageDigest sha, String name, String value) {
        byte[] bytes = (name + "=" + value).getBytes(StandardCharsets.UTF_8);
        sha.update(java.nio.ByteBuffer.allocate(Integer.BYTES).putInt(bytes.length).array());
        sha.update(bytes);
    }
}
