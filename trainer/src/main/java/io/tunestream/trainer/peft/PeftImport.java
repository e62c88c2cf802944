package io.tunestream.trainer.peft;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftConversion;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.run.AdapterTable;
import io.tunestream.trainer.run.TemplateHash;
import java.util.List;
import java.util.Optional;

/**
 * The trainer's side of a PEFT import: the adapter, checked against this trainer's model and the task's template
 * ({@link PeftConversion}, in {@code schemas}), numbered above every version of the task, its table stored as the
 * trainer stores its own ({@link AdapterTable}: float16 above 4 MB of float32), and signed with the trainer's key,
 * so serving verifies and applies it like a tuned version. No checkpoint goes with it (a PEFT file holds no
 * optimizer state, and p-tuning's encoder is not in it): the task's next run warm-starts from the task's last
 * checkpoint where one fits (WarmStart), or afresh, and must beat the import on the validation examples to replace it.
 */
public final class PeftImport {

    private PeftImport() {
    }

    /**
     * The version to publish.
     *
     * @throws PeftFormatException when the adapter does not fit the model or the task (reason {@code template} also
     *                             when the task has no template yet)
     */
    public static AdapterVersion adapter(PeftAdapter peft, AdapterCheck model, TaskAdapterHistory history,
                                         Optional<AdapterSigner> signer, String runId, long nowMillis) {
        TaskTemplate template = history.template().orElseThrow(() -> new PeftFormatException("template", "task '"
                + history.task() + "' has no template on task-templates: register it first (ingest templates)"));
        AdapterVersion adapter = PeftConversion.toAdapterVersion(peft, model, template,
                TemplateHash.of(template.getPromptTemplate()), history.nextVersion(), runId, nowMillis);
        List<Integer> shape = adapter.getTable().getShape();
        float[] values = TensorCodec.decode(adapter.getTable());
        DType dtype = AdapterTable.dtypeFor(values.length);
        if (adapter.getTable().getDtype() == DType.FLOAT32 && dtype != DType.FLOAT32) {
            adapter = AdapterVersion.newBuilder(adapter).setTable(TensorCodec.encodeMatrix(adapter.getTable().getName(),
                    values, shape.get(0), shape.get(1), dtype)).build();
        }
        AdapterVersion unsigned = adapter;
        return signer.map(s -> s.sign(unsigned)).orElse(unsigned);
    }

    /** The PUBLISHED {@code training-runs} record that goes with it, naming where it came from. */
    public static TrainingRun run(AdapterVersion adapter, PeftAdapter peft, String source) {
        return TrainingRun.newBuilder()
                .setRunId(adapter.getRunId())
                .setTask(adapter.getTask())
                .setStatus(RunStatus.PUBLISHED)
                .setPublishedVersion(adapter.getVersion())
                .setMessage("published v" + adapter.getVersion() + ": imported from PEFT " + peft.config().peftType()
                        + " adapter " + source + peft.config().baseModelNameOrPath().map(b -> " (base model " + b + ")")
                        .orElse(""))
                .setStartedAtMillis(adapter.getCreatedAtMillis())
                .setUpdatedAtMillis(adapter.getCreatedAtMillis())
                .build();
    }
}
