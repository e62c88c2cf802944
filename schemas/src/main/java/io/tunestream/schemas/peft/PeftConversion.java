package io.tunestream.schemas.peft;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Converts between our {@link AdapterVersion} and PEFT's {@link PeftAdapter}, both ways without touching the numbers:
 * the tensor's dtype and bytes are kept.
 *
 * <p>The layouts are the same. A virtual-token table (prompt tuning, p-tuning) is {@code [tokens, hidden]} in both.
 * A deep prompt's table is already PEFT's prefix layout {@code [tokens, 2·layers·kvHeads·headDim]}, entry 2l of the
 * middle axis layer l's key and 2l+1 its value, which {@code PeftModel.get_prompt} (huggingface/peft
 * 5d602fdbff04c33c1c4de55cda9d4ae1d7cb7e40, src/peft/peft_model.py) views as {@code (tokens, 2·layers, heads,
 * head_dim)} and permutes to per-layer {@code [heads, tokens, head_dim]} keys and values. For grouped-query attention
 * PEFT's {@code heads} and {@code token_dim} are the kv heads and {@code kv_heads·head_dim}
 * ({@code _prepare_prompt_learning_config}, src/peft/utils/other.py), which is what our deep prompts hold.
 *
 * <p>An export names its origin in the safetensors metadata ({@link #META_TASK}, {@link #META_VERSION},
 * {@link #META_MODEL_FINGERPRINT}, next to PEFT's {@code format: pt}); an import of a file that names another model
 * fingerprint is refused. PEFT's own files carry no fingerprint, so for them the dimensions are what is checked.
 *
 * <p>What does not survive: p-tuning's prompt encoder (PEFT saves its output, the table; an import cannot
 * warm-start an encoder), and our templates' virtual-token splits (PEFT puts every virtual token before the input;
 * an import takes the task template's splits, so a template with one split at its start serves it as PEFT does).
 */
public final class PeftConversion {

    /** Safetensors metadata: the task an exported adapter was tuned for. */
    public static final String META_TASK = "tunestream.task";
    /** Safetensors metadata: its version. */
    public static final String META_VERSION = "tunestream.version";
    /** Safetensors metadata: the fingerprint of the model it was tuned on. */
    public static final String META_MODEL_FINGERPRINT = "tunestream.model_fingerprint";

    private PeftConversion() {
    }

    /**
     * {@code adapter} in PEFT's format, for the base model called {@code baseModelName} in PEFT's config
     * ({@code base_model_name_or_path}, a Hub id or a path; empty leaves it null).
     *
     * @throws PeftFormatException when the adapter's table does not agree with its shape (reason {@code shape}) or
     *                             holds a non-finite value
     */
    public static PeftAdapter toPeft(AdapterVersion adapter, Optional<String> baseModelName) {
        PeftType type = PeftType.of(adapter.getVirtualPromptStyle());
        List<Integer> shape = adapter.getTable().getShape();
        String id = "adapter " + adapter.getTask() + " v" + adapter.getVersion();
        if (shape.size() != 2) {
            throw new PeftFormatException("shape", id + ": table shape " + shape + " is not 2-D");
        }
        PeftConfig config;
        DeepPromptShape deep = adapter.getDeepPrompt();
        if (type == PeftType.PREFIX_TUNING) {
            if (deep == null) {
                throw new PeftFormatException("shape", id + " is PREFIX_TUNING without a deepPrompt shape");
            }
            config = config(id, () -> new PeftConfig(type, shape.get(0), deep.getKvHeads() * deep.getHeadDim(),
                    OptionalInt.of(deep.getLayers()), OptionalInt.of(deep.getKvHeads()), baseModelName));
        } else {
            config = config(id, () -> new PeftConfig(type, shape.get(0), adapter.getHiddenSize(), OptionalInt.empty(),
                    OptionalInt.empty(), baseModelName));
        }
        Tensor tensor = Tensor.newBuilder(adapter.getTable()).setName(PeftAdapter.TENSOR)
                .setData(adapter.getTable().getData().duplicate()).build();
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        metadata.put(META_TASK, adapter.getTask());
        metadata.put(META_VERSION, Integer.toString(adapter.getVersion()));
        metadata.put(META_MODEL_FINGERPRINT, adapter.getModelFingerprint());
        return new PeftAdapter(config, tensor, metadata);
    }

    /**
     * {@code peft} as version {@code version} of {@code template}'s task, checked against the model
     * ({@code model}: its fingerprint, hidden size and decoder shape) and the template (style and virtual tokens), then
     * by {@link AdapterCheck} as serving will check it. Unsigned: the trainer signs before publishing.
     *
     * @param templateHash the hash of the template's prompt recorded on adapters (the trainer's {@code TemplateHash})
     * @param runId        what produced it, e.g. {@code peft-import-<uuid>}
     * @throws PeftFormatException when it does not fit: reason {@code model} (another base model: fingerprint,
     *                             hidden size, layers, heads or head size), {@code template} (style or virtual tokens),
     *                             or {@link AdapterCheck}'s reason
     */
    public static AdapterVersion toAdapterVersion(PeftAdapter peft, AdapterCheck model, TaskTemplate template,
                                                  String templateHash, int version, String runId,
                                                  long createdAtMillis) {
        Objects.requireNonNull(peft, "peft");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(template, "template");
        String task = template.getTask();
        PeftConfig config = peft.config();
        String id = "PEFT " + config.peftType() + " adapter for task " + task;
        String fingerprint = peft.metadata().get(META_MODEL_FINGERPRINT);
        if (fingerprint != null && !fingerprint.equals(model.modelFingerprint())) {
            throw new PeftFormatException("model", id + " was exported from model " + fingerprint
                    + " (safetensors metadata), but this model is " + model.modelFingerprint());
        }
        DeepPromptShape deep = null;
        if (config.peftType() == PeftType.PREFIX_TUNING) {
            AdapterCheck.Decoder decoder = model.decoder().orElseThrow(() -> new PeftFormatException("model", id
                    + ": this model's layers, kv heads and head size are not known, so a prefix cannot be checked"));
            int layers = config.numLayers().getAsInt();
            int heads = config.numAttentionHeads().getAsInt();
            if (layers != decoder.layers() || heads != decoder.kvHeads()
                    || config.tokenDim() != decoder.kvHeads() * decoder.headDim()) {
                throw new PeftFormatException("model", id + " is a prefix for " + layers + " layers x " + heads
                        + " heads x head size " + config.tokenDim() / heads + " (num_layers, num_attention_heads, "
                        + "token_dim " + config.tokenDim() + "), but this model has " + decoder + " (token_dim "
                        + decoder.kvHeads() * decoder.headDim() + "; PEFT sets num_attention_heads to the kv heads "
                        + "and token_dim to kv heads x head size for grouped-query attention): an adapter for "
                        + "another base model");
            }
            deep = new DeepPromptShape(layers, heads, decoder.headDim());
        } else if (config.tokenDim() != model.hiddenSize()) {
            throw new PeftFormatException("model", id + " has token_dim " + config.tokenDim()
                    + ", but this model's hidden size is " + model.hiddenSize() + ": an adapter for another base model");
        }
        VirtualPromptStyle templateStyle = template.getTuning() == null ? VirtualPromptStyle.P_TUNING
                : template.getTuning().getVirtualPromptStyle();
        boolean deepTemplate = templateStyle == VirtualPromptStyle.PREFIX_TUNING;
        if (deepTemplate != (deep != null)) {
            throw new PeftFormatException("template", id + " cannot serve task " + task + ", whose template is "
                    + templateStyle + ": " + (deep != null ? "a prefix needs a prefix-tuning template"
                    : "a prefix-tuning template needs a PREFIX_TUNING adapter"));
        }
        if (template.getTotalVirtualTokens() != config.numVirtualTokens()) {
            throw new PeftFormatException("template", id + " has " + config.numVirtualTokens()
                    + " virtual tokens, but task " + task + "'s template has " + template.getTotalVirtualTokens()
                    + " (splits " + template.getVirtualTokenSplits() + ")");
        }
        Tensor table = Tensor.newBuilder(peft.promptEmbeddings()).setName("virtual_tokens." + task)
                .setData(peft.promptEmbeddings().getData().duplicate()).build();
        AdapterVersion adapter = AdapterVersion.newBuilder()
                .setTask(task)
                .setVersion(version)
                .setModelFingerprint(model.modelFingerprint())
                .setHiddenSize(model.hiddenSize())
                .setTable(table)
                .setDeepPrompt(deep)
                .setVirtualTokenSplits(List.copyOf(template.getVirtualTokenSplits()))
                .setTemplateHash(templateHash)
                .setVirtualPromptStyle(config.peftType().style())
                .setValidationLoss(null)
                .setTrainingExamples(0)
                .setRunId(runId)
                .setCreatedAtMillis(createdAtMillis)
                .build();
        Optional<AdapterCheck.Refusal> refusal = model.refusal(adapter);
        if (refusal.isPresent()) {
            throw new PeftFormatException(refusal.get().reason(), id + ": " + refusal.get().message());
        }
        return adapter;
    }

    private static PeftConfig config(String id, java.util.function.Supplier<PeftConfig> config) {
        try {
            return config.get();
        } catch (IllegalArgumentException e) {
            throw new PeftFormatException("shape", id + " cannot be described by a PEFT config: " + e.getMessage(), e);
        }
    }
}
