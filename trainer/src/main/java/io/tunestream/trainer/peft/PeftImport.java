package io.tunestream.trainer.peft;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.run.AdapterTable;
import io.tunestream.trainer.run.TemplateHash;
import java.util.List;

/**
 * The trainer's side of a PEFT import: the adapter, checked against this trainer's model and the task's template
 * ({@link PeftConversion}, in {@code schemas}), its table stored as the trainer stores its own ({@link AdapterTable}:
 * float16 above 4 MB of float32). The task's owner numbers, signs and publishes it (the loop's
 * {@code importPeft}, behind {@code POST /api/tasks/{task}/versions/peft}). No checkpoint goes with it (a PEFT file
 * holds no optimizer state, and p-tuning's encoder is not in it): the task's next run warm-starts from the task's
 * last checkpoint where one fits (WarmStart), or afresh, and must beat the import on the validation examples to
 * replace it.
 */
public final class PeftImport {

    private PeftImport() {
    }

    /**
     * The version to publish, unsigned, numbered {@code version} (the publisher renumbers and signs it).
     *
     * @throws PeftFormatException when the adapter does not fit the model ({@code model}) or the task's template
     *                             ({@code template}), or a check of {@link AdapterCheck}'s
     */
    public static AdapterVersion adapter(PeftAdapter peft, AdapterCheck model, TaskTemplate template, int version,
                                         String runId, long nowMillis) {
        AdapterVersion adapter = PeftConversion.toAdapterVersion(peft, model, template,
                TemplateHash.of(template.getPromptTemplate()), version, runId, nowMillis);
        List<Integer> shape = adapter.getTable().getShape();
        float[] values = TensorCodec.decode(adapter.getTable());
        DType dtype = AdapterTable.dtypeFor(values.length);
        if (adapter.getTable().getDtype() == DType.FLOAT32 && dtype != DType.FLOAT32) {
            adapter = AdapterVersion.newBuilder(adapter).setTable(TensorCodec.encodeMatrix(adapter.getTable().getName(),
                    values, shape.get(0), shape.get(1), dtype)).build();
        }
        return adapter;
    }
}
