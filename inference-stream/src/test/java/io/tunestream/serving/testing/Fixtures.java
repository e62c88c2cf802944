package io.tunestream.serving.testing;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.GenerationOptions;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

/** Templates, adapters and requests of the serving tests. */
public final class Fixtures {

    public static final String SQUAD_TEMPLATE =
            "<|VIRTUAL_PROMPT_0|> Context: {context}\n\nQuestion: {question}\n\nAnswer:{answer}";

    private Fixtures() {
    }

    /** NeMo's SQuAD template with {@code virtualTokens} virtual tokens; no base model without an adapter. */
    public static TaskTemplate squad(String task, int virtualTokens) {
        return TaskTemplate.newBuilder()
                .setTask(task)
                .setPromptTemplate(SQUAD_TEMPLATE)
                .setPromptTemplateFields(List.of("context", "question", "answer"))
                .setAnswerField("answer")
                .setTruncateField("context")
                .setVirtualTokenSplits(List.of(virtualTokens))
                .setTotalVirtualTokens(virtualTokens)
                .setMaxSeqLength(128)
                .setAllowBaseModel(false)
                .build();
    }

    /** An intent/slot template that may run on the plain base model. */
    public static TaskTemplate assistant(String task, int virtualTokens) {
        return TaskTemplate.newBuilder()
                .setTask(task)
                .setPromptTemplate("<|VIRTUAL_PROMPT_0|> {utterance}{label}")
                .setPromptTemplateFields(List.of("utterance", "label"))
                .setAnswerField("label")
                .setVirtualTokenSplits(List.of(virtualTokens))
                .setTotalVirtualTokens(virtualTokens)
                .setMaxSeqLength(128)
                .setAllowBaseModel(true)
                .build();
    }

    /** A float32 table of {@code rows} × {@code hidden}, every element {@code version / 10}. */
    public static AdapterVersion adapter(String task, int version, String fingerprint, int hidden, int rows) {
        ByteBuffer data = ByteBuffer.allocate(rows * hidden * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * hidden; i++) {
            data.putFloat(version / 10f);
        }
        data.flip();
        return AdapterVersion.newBuilder()
                .setTask(task)
                .setVersion(version)
                .setModelFingerprint(fingerprint)
                .setHiddenSize(hidden)
                .setTable(new Tensor("virtual_tokens", DType.FLOAT32, List.of(rows, hidden), data))
                .setVirtualTokenSplits(List.of(rows))
                .build();
    }

    public static InferenceRequest squadRequest(String id, String task) {
        return request(id, task, Map.of("context", "Ada lives in Paris.", "question", "Where does Ada live?"));
    }

    public static InferenceRequest assistantRequest(String id, String task) {
        return request(id, task, Map.of("utterance", "set an alarm for noon"));
    }

    public static InferenceRequest request(String id, String task, Map<String, String> fields) {
        return InferenceRequest.newBuilder()
                .setRequestId(id)
                .setTask(task)
                .setFields(fields)
                .setOptions(GenerationOptions.newBuilder().setMaxNewTokens(8).build())
                .build();
    }

    public static InferenceRequest pinned(InferenceRequest request, int version) {
        return InferenceRequest.newBuilder(request).setAdapterVersion(version).build();
    }
}
