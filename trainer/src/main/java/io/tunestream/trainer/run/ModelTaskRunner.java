package io.tunestream.trainer.run;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tunestream.model.prompt.Prompt;
import io.tunestream.model.prompt.PromptBuilder;
import io.tunestream.model.tune.AdamW;
import io.tunestream.model.tune.CheckpointCodec;
import io.tunestream.model.tune.DecoderTableObjective;
import io.tunestream.model.tune.DeepPromptObjective;
import io.tunestream.model.tune.TableObjective;
import io.tunestream.model.tune.EarlyStopping;
import io.tunestream.model.tune.EpochResult;
import io.tunestream.model.tune.ParameterLayout;
import io.tunestream.model.tune.PromptEncoder;
import io.tunestream.model.tune.PromptTuner;
import io.tunestream.model.tune.StopReason;
import io.tunestream.model.tune.TaskCheckpoint;
import io.tunestream.model.tune.TaskResult;
import io.tunestream.model.tune.TaskTuning;
import io.tunestream.model.tune.TuningConfig;
import io.tunestream.model.tune.TuningExamples;
import io.tunestream.schemas.AdapterCheckpoint;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.LabelledExample;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.RunStatus;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TrainingRun;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.state.TaskSnapshot;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run on the real model: the snapshot's examples become training prompts ({@link TuningExamples},
 * skipped ones counted by reason), the encoder starts from the latest compatible checkpoint or from
 * scratch ({@link WarmStart}), {@link PromptTuner} trains it epoch by epoch (a RUNNING record after
 * each) within the run's step bound, and the best table is compared with the serving table on the
 * same validation prompts with the same objective ({@link PublishDecision}).
 *
 * <p>A {@code prefix-tuning} template tunes a deep prompt instead: {@link DeepPromptObjective} on the model's
 * deep-prompt session, prompts without virtual-token slots, the table {@code [virtual tokens,
 * 2·layers·kvHeads·headDim]} published with the decoder shape ({@code deepPrompt}) that serving checks.
 *
 * <p>Runs one at a time (the training session is not meant for overlapping calls).
 */
public final class ModelTaskRunner implements TaskRunner, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelTaskRunner.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainerModel model;
    private final long maxStepsPerRun;
    private final Clock clock;
    private final boolean ownsModel;
    private final PromptTuner tuner = new PromptTuner();

    /**
     * @param model          the frozen model (not owned)
     * @param maxStepsPerRun safety bound on optimizer steps in one run
     * @param clock          run timestamps
     */
    public ModelTaskRunner(TrainerModel model, long maxStepsPerRun, Clock clock) {
        this(model, maxStepsPerRun, clock, false);
    }

    private ModelTaskRunner(TrainerModel model, long maxStepsPerRun, Clock clock, boolean ownsModel) {
        this.ownsModel = ownsModel;
        this.model = Objects.requireNonNull(model, "model");
        if (maxStepsPerRun < 1) {
            throw new IllegalArgumentException("max steps per run must be at least 1, got " + maxStepsPerRun);
        }
        this.maxStepsPerRun = maxStepsPerRun;
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Loads the model of {@code modelDir} and runs on it; {@link #close()} releases it. */
    public static ModelTaskRunner load(java.nio.file.Path modelDir, io.tunestream.model.onnx.RuntimeConfig runtime,
                                       long maxStepsPerRun, Clock clock) {
        TrainerModel model = TrainerModel.load(modelDir, runtime);
        LOG.info("model {} loaded: hidden size {}, fingerprint {}, provider {}", modelDir, model.hiddenSize(),
                model.fingerprint(), model.provider());
        return new ModelTaskRunner(model, maxStepsPerRun, clock, true);
    }

    /** The trainer's model: what serving checks every adapter against too. */
    @Override
    public Optional<AdapterCheck> adapterCheck() {
        return Optional.of(new AdapterCheck(model.fingerprint(), model.hiddenSize(), model.decoder()));
    }

    @Override
    public void close() {
        if (ownsModel) {
            model.close();
        }
    }

    @Override
    public RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress) {
        TrainingRun.Builder record = TrainingRun.newBuilder()
                .setRunId(runId)
                .setTask(snapshot.task())
                .setStatus(RunStatus.RUNNING)
                .setStartedAtMillis(clock.millis())
                .setUpdatedAtMillis(clock.millis());
        try {
            return tune(snapshot, runId, record, progress);
        } catch (RuntimeException e) {
            String message = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!message.contains(snapshot.task())) {
                message = "task '" + snapshot.task() + "': " + message;
            }
            LOG.warn("run {} of task {} failed: {}", runId, snapshot.task(), message, e);
            return new RunOutcome.Failed(record.setStatus(RunStatus.FAILED).setMessage(message)
                    .setUpdatedAtMillis(clock.millis()).build());
        }
    }

    private RunOutcome tune(TaskSnapshot snapshot, String runId, TrainingRun.Builder record, Progress progress) {
        String task = snapshot.task();
        TaskTemplate avro = snapshot.template();
        io.tunestream.model.prompt.TaskTemplate template = modelTemplate(avro);
        TuningPlan plan = TuningPlan.of(avro);
        TuningConfig config = plan.config();
        int hidden = model.hiddenSize();
        // a deep prompt (prefix tuning) sits in the KV cache: its prompts have no virtual-token slots, and its
        // virtual tokens take the first positions (max_seq_length counts them, as NeMo's does)
        boolean deep = avro.getTuning().getVirtualPromptStyle() == VirtualPromptStyle.PREFIX_TUNING;
        int virtualTokens = avro.getTotalVirtualTokens();
        int maxTokens = Math.min(avro.getMaxSeqLength(), model.config().maxPositions()) - (deep ? virtualTokens : 0);
        io.tunestream.model.prompt.TaskTemplate examplesTemplate = deep ? template.withoutVirtualTokens() : template;
        OptionalInt eos = model.config().eosTokenId() >= 0 ? OptionalInt.of(model.config().eosTokenId()) : OptionalInt.empty();
        PromptBuilder builder = new PromptBuilder(model.tokenizer(), model.config().bosTokenId());
        // add_bos on a model without BOS: refuse the run, named, rather than skip every example
        builder.check(template);
        TuningExamples train = TuningExamples.of(jsonLines(task, snapshot.train()), examplesTemplate, builder,
                maxTokens, eos);
        TuningExamples validation = TuningExamples.of(jsonLines(task, snapshot.validation()), examplesTemplate,
                builder, maxTokens, eos);
        Map<String, Long> skipped = new LinkedHashMap<>();
        train.skipped().forEach((reason, n) -> skipped.merge(reason, n, Long::sum));
        validation.skipped().forEach((reason, n) -> skipped.merge(reason, n, Long::sum));
        record.setTrainingExamples(train.prompts().size())
                .setValidationExamples(validation.prompts().size())
                .setSkipped(new TreeMap<>(skipped));
        if (train.prompts().isEmpty()) {
            throw new IllegalArgumentException("task '" + task + "' has no usable training example ("
                    + snapshot.train().size() + " received" + skippedText(skipped) + ")");
        }
        if (validation.prompts().isEmpty()) {
            throw new IllegalArgumentException("task '" + task + "' has no usable validation example ("
                    + snapshot.validation().size() + (snapshot.heldOut() ? " held out of TRAIN with validationFraction "
                    + avro.getRetraining().getValidationFraction() : " VALIDATION examples") + skippedText(skipped) + ")");
        }
        TableObjective<Prompt> objective;
        int width;
        if (deep) {
            DeepPromptObjective deepObjective = new DeepPromptObjective(model.deepPromptSession(), virtualTokens,
                    avro.getAnswerOnlyLoss());
            objective = deepObjective;
            width = deepObjective.rowWidth();
        } else {
            objective = new DecoderTableObjective(model.session(), virtualTokens, avro.getAnswerOnlyLoss());
            width = hidden;
        }
        ParameterLayout layout = PromptEncoder.of(plan.encoder(), width).layout();
        String inputs = RunInputs.fingerprint(model.fingerprint(), avro, snapshot.train(), snapshot.validation());
        WarmStart warm = WarmStart.select(snapshot.checkpoint(), snapshot.checkpointPieces(), model.fingerprint(),
                plan.encoder().type(), deep, layout,
                Optional.of(new WarmStart.Run(plan.encoder(), width, config, inputs)));
        InitRows init = initRows(plan, deep, warm.parameters().isPresent());
        TaskTuning<Prompt> spec = new TaskTuning<>(task, plan.encoder(), init.rows(), width, init.ids(), train.prompts(),
                validation.prompts(), skipped, objective);
        warm.fromVersion().ifPresent(record::setWarmStartVersion);
        if (warm.refused()) {
            LOG.warn("run {} of task {}: {}", runId, task, warm.reason());
        }
        LOG.info("run {} of task {}: {} training / {} validation examples ({} new), skipped {}, {}", runId, task,
                train.prompts().size(), validation.prompts().size(), snapshot.newExamples(), skipped, warm.reason());

        TaskCheckpoint state = warm.resume().orElseGet(() -> warm.parameters()
                .map(p -> new TaskCheckpoint(task, plan.encoder(), width, config, p, AdamW.State.initial(p.length), 0, 0,
                        0.0, EarlyStopping.start(config.patience(), config.minDelta()), p, List.of()))
                .orElseGet(() -> tuner.start(spec, config)));
        long stepsPerEpoch = config.stepsPerEpoch(train.prompts().size());
        long remaining = maxStepsPerRun;
        TaskResult result;
        while (true) {
            if (Thread.currentThread().isInterrupted()) {
                throw new IllegalStateException("task '" + task + "': run stopped by shutdown after " + state.step()
                        + " steps; nothing published");
            }
            long before = state.step();
            result = tuner.resume(spec, state, Math.min(stepsPerEpoch, remaining));
            remaining -= result.checkpoint().step() - before;
            int epochsBefore = state.history().size();
            state = result.checkpoint();
            if (state.history().size() > epochsBefore) {
                EpochResult epoch = state.history().get(state.history().size() - 1);
                progress.report(record.setStatus(RunStatus.RUNNING).setStep(state.step()).setEpoch(epoch.epoch() + 1)
                        .setTrainLoss(epoch.trainLoss()).setValidationLoss(epoch.validationLoss())
                        .setMessage(String.format(java.util.Locale.ROOT, "epoch %d: train loss %.4f, validation loss %.4f",
                                epoch.epoch(), epoch.trainLoss(), epoch.validationLoss()))
                        .setUpdatedAtMillis(clock.millis()).build());
            }
            StopReason stop = result.report().stopReason();
            if (stop == StopReason.STEP_BUDGET && remaining > 0 && !state.finished()) {
                // the run goes on: what a replica taking over after a restart or a rebalance resumes exactly
                progress.checkpoint(inProgress(snapshot, runId, avro, state, inputs));
            }
            if (stop == StopReason.NON_FINITE_LOSS) {
                throw new IllegalStateException("task '" + task + "': " + result.report().detail()
                        + "; nothing published, the last good checkpoint stays"
                        + snapshot.checkpoint().map(c -> " (v" + c.getVersion() + ")").orElse(""));
            }
            if (stop != StopReason.STEP_BUDGET || remaining <= 0) {
                if (stop == StopReason.STEP_BUDGET) {
                    LOG.info("run {} of task {}: stopped at the bound of {} steps per run", runId, task, maxStepsPerRun);
                }
                break;
            }
        }

        float[] table = result.table();
        double newLoss = ValidationLoss.of(objective, table, validation.prompts(), config.microBatch());
        OptionalDouble servingLoss = servingLoss(snapshot, deep, objective, validation.prompts(), config.microBatch());
        PublishDecision decision = PublishDecision.decide(newLoss, servingLoss,
                avro.getRetraining().getMinImprovement());
        List<EpochResult> history = state.history();
        record.setStep(state.step()).setEpoch(state.epoch())
                .setTrainLoss(history.isEmpty() ? null : history.get(history.size() - 1).trainLoss())
                .setValidationLoss(newLoss)
                .setServingValidationLoss(servingLoss.isPresent() ? servingLoss.getAsDouble() : null)
                .setUpdatedAtMillis(clock.millis());
        if (!decision.publish()) {
            LOG.info("run {} of task {}: not published: {}", runId, task, decision.reason());
            return new RunOutcome.NotPublished(record.setStatus(RunStatus.NOT_PUBLISHED)
                    .setMessage(decision.reason()).build());
        }
        int version = snapshot.nextVersion();
        long now = clock.millis();
        int rows = avro.getTotalVirtualTokens();
        AdapterCheck.Decoder decoder = model.decoder();
        AdapterVersion adapter = AdapterVersion.newBuilder()
                .setTask(task)
                .setVersion(version)
                .setModelFingerprint(model.fingerprint())
                .setHiddenSize(hidden)
                .setTable(AdapterTable.encode(task, table, rows, width))
                .setDeepPrompt(deep ? new DeepPromptShape(decoder.layers(), decoder.kvHeads(), decoder.headDim()) : null)
                .setVirtualTokenSplits(avro.getVirtualTokenSplits())
                .setTemplateHash(TemplateHash.of(avro.getPromptTemplate()))
                .setVirtualPromptStyle(avro.getTuning().getVirtualPromptStyle())
                .setValidationLoss(newLoss)
                .setTrainingExamples(train.prompts().size())
                .setRunId(runId)
                .setCreatedAtMillis(now)
                .build();
        AdapterCheckpoint checkpoint = CheckpointRecords.toRecord(state, layout, version, runId, model.fingerprint(),
                avro.getTuning().getVirtualPromptStyle(), checkpointEncoder(avro, plan), now);
        ExactCheckpoint exact = new ExactCheckpoint(checkpoint, CheckpointCodec.encode(state), runId + "@" + state.step(),
                inputs, state.finished(), previousPieces(snapshot), false);
        LOG.info("run {} of task {}: publishing v{}: {}", runId, task, version, decision.reason());
        return new RunOutcome.Published(adapter, checkpoint, record.setStatus(RunStatus.PUBLISHED)
                .setPublishedVersion(version).setMessage("published v" + version + ": " + decision.reason())
                .setUpdatedAtMillis(now).build(), Optional.of(exact));
    }

    /**
     * The run's state as the task's checkpoint while it runs: the head stays the previous checkpoint's (version,
     * parameters of the published table; none before the first), the exact state is this run's.
     */
    private ExactCheckpoint inProgress(TaskSnapshot snapshot, String runId, TaskTemplate avro, TaskCheckpoint state,
                                       String inputs) {
        long now = clock.millis();
        AdapterCheckpoint head = snapshot.checkpoint()
                .map(previous -> AdapterCheckpoint.newBuilder(previous).setResume(null))
                .orElseGet(() -> AdapterCheckpoint.newBuilder().setTask(snapshot.task()).setVersion(0)
                        .setModelFingerprint(model.fingerprint())
                        .setVirtualPromptStyle(avro.getTuning().getVirtualPromptStyle())
                        .setEncoderType(avro.getTuning().getEncoderType())
                        .setParameters(List.of()).setOptimizerState(List.of()).setStep(0).setEpoch(0)
                        .setBestValidationLoss(null))
                .setRunId(runId)
                .setCreatedAtMillis(now)
                .build();
        return new ExactCheckpoint(head, CheckpointCodec.encode(state), runId + "@" + state.step(), inputs, false,
                previousPieces(snapshot), true);
    }

    /** Pieces of the task's checkpoint when the run started: those a new checkpoint does not overwrite are tombstoned. */
    private static int previousPieces(TaskSnapshot snapshot) {
        return snapshot.checkpoint().map(c -> c.getResume() == null ? 0 : c.getResume().getChunkCount()).orElse(0);
    }

    /**
     * The rows the encoder's init reads ({@link io.tunestream.model.tune.VirtualTokenInit}) and the ids of the
     * init text among them. A table starts from the LM's token embeddings and the init text's token ids; a deep
     * prompt with init TEXT from the keys and values the model caches for the init text (its rows 0.. are the
     * text's tokens, so the prefix reproduces running the text); any other deep prompt at random (nothing to read).
     * A warm start reads no rows: the deep prompt's text is not run then.
     */
    private InitRows initRows(TuningPlan plan, boolean deep, boolean warmStart) {
        int[] textIds = plan.encoder().initText().map(model.tokenizer()::encode).orElse(new int[0]);
        if (!deep) {
            return new InitRows(model.tokenEmbeddings(), textIds);
        }
        if (warmStart || plan.encoder().init() != io.tunestream.model.tune.EmbeddingInit.TEXT || textIds.length == 0) {
            return new InitRows(new float[0], new int[0]);
        }
        // the first P positions' keys and values depend on the first P tokens only: a longer text is not run whole
        int[] run = java.util.Arrays.copyOf(textIds, Math.min(textIds.length, plan.encoder().virtualTokens()));
        float[] keysAndValues = model.keysAndValues(run);
        return new InitRows(keysAndValues, java.util.stream.IntStream.range(0, run.length).toArray());
    }

    private record InitRows(float[] rows, int[] ids) {
    }

    /**
     * The encoder a checkpoint records: the template's for p-tuning and prompt tuning (as before); for a deep
     * prompt what was trained, MLP through the prefix projection or EMBEDDING, so a warm start can tell them apart.
     */
    static io.tunestream.schemas.PromptEncoderType checkpointEncoder(TaskTemplate avro, TuningPlan plan) {
        if (avro.getTuning().getVirtualPromptStyle() != VirtualPromptStyle.PREFIX_TUNING) {
            return avro.getTuning().getEncoderType();
        }
        return io.tunestream.schemas.PromptEncoderType.valueOf(plan.encoder().type().name());
    }

    /** The serving table's loss on the same prompts, when it fits this model and template. */
    private OptionalDouble servingLoss(TaskSnapshot snapshot, boolean deep, TableObjective<Prompt> objective,
                                       List<Prompt> prompts, int microBatch) {
        if (snapshot.serving().isEmpty()) {
            return OptionalDouble.empty();
        }
        AdapterVersion serving = snapshot.serving().get();
        int rows = snapshot.template().getTotalVirtualTokens();
        List<Integer> shape = serving.getTable().getShape();
        var refusal = new AdapterCheck(model.fingerprint(), model.hiddenSize(), model.decoder()).refusal(serving);
        if (refusal.isEmpty() && (serving.getDeepPrompt() != null) != deep) {
            // a deep prompt and a table are evaluated by different objectives: not comparable
            refusal = Optional.of(new AdapterCheck.Refusal("style", "serving v" + serving.getVersion() + " is "
                    + (deep ? "a virtual-token table, this run tunes a deep prompt" : "a deep prompt, this run tunes a table")));
        }
        if (refusal.isPresent() || shape.get(0) != rows) {
            LOG.info("task {}: serving v{} (model {}, table {}) is not comparable with this model and template ({} x {}): {}",
                    snapshot.task(), serving.getVersion(), serving.getModelFingerprint(), shape, rows, model.hiddenSize(),
                    refusal.map(AdapterCheck.Refusal::message).orElse("the template's virtual tokens differ"));
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(ValidationLoss.of(objective, TensorCodec.decode(serving.getTable()), prompts, microBatch));
    }

    static io.tunestream.model.prompt.TaskTemplate modelTemplate(TaskTemplate t) {
        return new io.tunestream.model.prompt.TaskTemplate(t.getTask(), t.getPromptTemplate(),
                t.getPromptTemplateFields(), t.getAnswerOnlyLoss(), t.getAnswerField(), t.getTruncateField(),
                t.getVirtualTokenSplits(), t.getTotalVirtualTokens(), t.getAddBos());
    }

    /** Examples as NeMo JSONL lines ({@code taskname} plus the fields), what {@link TuningExamples} reads. */
    static List<String> jsonLines(String task, List<LabelledExample> examples) {
        List<String> lines = new ArrayList<>(examples.size());
        for (LabelledExample e : examples) {
            ObjectNode line = JSON.createObjectNode();
            line.put("taskname", task);
            e.getFields().forEach(line::put);
            lines.add(line.toString());
        }
        return lines;
    }

    private static String skippedText(Map<String, Long> skipped) {
        return skipped.isEmpty() ? "" : "; skipped: " + new TreeMap<>(skipped);
    }
}
