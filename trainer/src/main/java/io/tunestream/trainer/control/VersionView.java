package io.tunestream.trainer.control;

import io.tunestream.schemas.AdapterVersion;
import java.util.List;

/** An adapter version as the API shows it: everything but the table's bytes and the signature. */
public record VersionView(String task, int version, boolean serving, String modelFingerprint, int hiddenSize,
                          List<Integer> tableShape, String tableDtype, List<Integer> virtualTokenSplits,
                          String virtualPromptStyle, String templateHash, Double validationLoss, long trainingExamples,
                          String runId, long createdAtMillis, String signatureKeyId) {

    public static VersionView of(AdapterVersion adapter, boolean serving) {
        return new VersionView(adapter.getTask(), adapter.getVersion(), serving, adapter.getModelFingerprint(),
                adapter.getHiddenSize(), List.copyOf(adapter.getTable().getShape()),
                adapter.getTable().getDtype().name(), List.copyOf(adapter.getVirtualTokenSplits()),
                adapter.getVirtualPromptStyle() == null ? null : adapter.getVirtualPromptStyle().name(),
                adapter.getTemplateHash(), adapter.getValidationLoss(), adapter.getTrainingExamples(),
                adapter.getRunId(), adapter.getCreatedAtMillis(), adapter.getSignatureKeyId());
    }
}
