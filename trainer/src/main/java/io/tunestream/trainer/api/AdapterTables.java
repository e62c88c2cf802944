package io.tunestream.trainer.api;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * An adapter version's tables as JSON: what {@code GET /api/tasks/{task}/versions/{version}/tables} exports and
 * {@code POST /api/tasks/{task}/versions} imports (Tunestream's own {@code AdapterVersion} fields; the table's
 * little-endian bytes in base64). The version, run id, times and signature of an import are the trainer's own.
 *
 * @param table the virtual-token table (for a deep prompt, the prefix in PEFT's layout)
 */
public record AdapterTables(String task, Integer version, String modelFingerprint, Integer hiddenSize,
                            List<Integer> virtualTokenSplits, String virtualPromptStyle, DeepPrompt deepPrompt,
                            String templateHash, Double validationLoss, Long trainingExamples, Table table,
                            String reason) {

    /** The table tensor: dtype FLOAT32, FLOAT16 or BFLOAT16, shape [rows, width], data base64. */
    public record Table(String dtype, List<Integer> shape, String data) {
    }

    /** A deep prompt's decoder shape. */
    public record DeepPrompt(int layers, int kvHeads, int headDim) {
    }

    public static AdapterTables of(AdapterVersion adapter) {
        Tensor t = adapter.getTable();
        ByteBuffer bytes = t.getData().duplicate();
        byte[] data = new byte[bytes.remaining()];
        bytes.get(data);
        DeepPromptShape deep = adapter.getDeepPrompt();
        return new AdapterTables(adapter.getTask(), adapter.getVersion(), adapter.getModelFingerprint(),
                adapter.getHiddenSize(), List.copyOf(adapter.getVirtualTokenSplits()),
                adapter.getVirtualPromptStyle() == null ? null : adapter.getVirtualPromptStyle().name(),
                deep == null ? null : new DeepPrompt(deep.getLayers(), deep.getKvHeads(), deep.getHeadDim()),
                adapter.getTemplateHash(), adapter.getValidationLoss(), adapter.getTrainingExamples(),
                new Table(t.getDtype().name(), List.copyOf(t.getShape()), Base64.getEncoder().encodeToString(data)),
                null);
    }

    /**
     * The tables as an adapter of {@code task} (version 0 until the trainer numbers it).
     *
     * @throws ApiError 400 naming the field that is missing or cannot be read
     */
    public AdapterVersion toAdapter(String task) {
        if (this.task != null && !this.task.equals(task)) {
            throw invalid(task, "the body is for task '" + this.task + "', the path for '" + task + "'");
        }
        require(task, modelFingerprint, "modelFingerprint");
        require(task, hiddenSize, "hiddenSize");
        require(task, virtualTokenSplits, "virtualTokenSplits");
        require(task, table, "table");
        require(task, table.dtype(), "table.dtype");
        require(task, table.shape(), "table.shape");
        require(task, table.data(), "table.data");
        byte[] data;
        try {
            data = Base64.getDecoder().decode(table.data());
        } catch (IllegalArgumentException e) {
            throw invalid(task, "table.data is not base64: " + e.getMessage());
        }
        Tensor tensor = Tensor.newBuilder().setName("virtual_tokens." + task)
                .setDtype(parse(task, DType.class, table.dtype(), "table.dtype"))
                .setShape(List.copyOf(table.shape())).setData(ByteBuffer.wrap(data)).build();
        return AdapterVersion.newBuilder().setTask(task).setVersion(0).setModelFingerprint(modelFingerprint)
                .setHiddenSize(hiddenSize).setTable(tensor).setVirtualTokenSplits(List.copyOf(virtualTokenSplits))
                .setVirtualPromptStyle(virtualPromptStyle == null ? null
                        : parse(task, VirtualPromptStyle.class, virtualPromptStyle, "virtualPromptStyle"))
                .setDeepPrompt(deepPrompt == null ? null : DeepPromptShape.newBuilder().setLayers(deepPrompt.layers())
                        .setKvHeads(deepPrompt.kvHeads()).setHeadDim(deepPrompt.headDim()).build())
                .setTemplateHash(templateHash == null ? "" : templateHash).setValidationLoss(validationLoss)
                .setTrainingExamples(trainingExamples == null ? 0 : trainingExamples).build();
    }

    private static void require(String task, Object value, String field) {
        if (value == null) {
            throw invalid(task, "the body has no " + field);
        }
    }

    private static <E extends Enum<E>> E parse(String task, Class<E> type, String value, String field) {
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw invalid(task, field + " '" + value + "' is none of " + List.of(type.getEnumConstants()));
        }
    }

    private static ApiError invalid(String task, String reason) {
        return new ApiError(400, "INVALID", task, reason);
    }
}
