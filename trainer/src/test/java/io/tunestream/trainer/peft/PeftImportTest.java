package io.tunestream.trainer.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.TaskTemplate;
import io.tunestream.schemas.TuningSettings;
import io.tunestream.schemas.VirtualPromptStyle;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.peft.PeftAdapter;
import io.tunestream.schemas.peft.PeftConfig;
import io.tunestream.schemas.peft.PeftFormatException;
import io.tunestream.schemas.peft.PeftType;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.trainer.run.TemplateHash;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The trainer's side of a PEFT import: converted against the model and template, stored as the trainer's own tables;
 * the CLI's local parts.
 */
class PeftImportTest {

    private static final AdapterCheck GPT2 = new AdapterCheck("fp-tiny-gpt2", 64, new AdapterCheck.Decoder(2, 4, 16));
    private static final Path FIXTURES = Path.of(System.getProperty("tunestream.home", "..")).resolve("models");

    @Test
    void shouldConvertAgainstTheModelAndTemplateUnsignedWithTheVersionGiven() throws IOException {
        AdapterVersion adapter = PeftImport.adapter(PeftAdapter.read(FIXTURES.resolve("tiny-gpt2/peft/prompt-tuning")),
                GPT2, template(4), 7, "peft-import-1", 42L);

        assertThat(adapter.getVersion()).isEqualTo(7);
        assertThat(adapter.getTask()).isEqualTo("squad");
        assertThat(adapter.getTemplateHash()).isEqualTo(TemplateHash.of(template(4).getPromptTemplate()));
        assertThat(adapter.getCreatedAtMillis()).isEqualTo(42L);
        assertThat(adapter.getVirtualTokenSplits()).containsExactly(4);
        assertThat(adapter.getSignature()).isNull();
    }

    @Test
    void shouldStoreAFloat32TableOverFourMegabytesAsFloat16AsTheTrainerDoes() {
        int tokens = 2100; // 2100 x 512 floats: 4.3 MB as float32, above AdapterTable's 4 MB
        AdapterCheck wide = new AdapterCheck("fp-wide", 512);
        float[] values = new float[tokens * 512];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 17) * 0.125f;
        }
        PeftAdapter peft = new PeftAdapter(new PeftConfig(PeftType.PROMPT_TUNING, tokens, 512, OptionalInt.empty(),
                OptionalInt.empty(), Optional.empty()),
                TensorCodec.encodeMatrix("prompt_embeddings", values, tokens, 512, DType.FLOAT32), Map.of());
        AdapterVersion adapter = PeftImport.adapter(peft, wide, template(tokens), 1, "r", 0L);

        assertThat(adapter.getVersion()).isEqualTo(1);
        assertThat(adapter.getTable().getDtype()).isEqualTo(DType.FLOAT16);
        // multiples of 1/8 are exact in fp16 (isEqualTo: Arrays.equals; containsExactly is quadratic on 1M repeated values)
        assertThat(TensorCodec.decode(adapter.getTable())).isEqualTo(values);
        assertThat(adapter.getSignature()).isNull();
    }

    @Test
    void shouldRefuseAnotherModelsPrefixWithTheReasonModel() throws IOException {
        PeftAdapter llama = PeftAdapter.read(FIXTURES.resolve("tiny-llama/peft/prefix-tuning"));
        TaskTemplate deep = TaskTemplate.newBuilder(template(3))
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(VirtualPromptStyle.PREFIX_TUNING).build())
                .setVirtualTokenSplits(List.of(llama.config().numVirtualTokens()))
                .setTotalVirtualTokens(llama.config().numVirtualTokens()).build();

        assertThatThrownBy(() -> PeftImport.adapter(llama, GPT2, deep, 1, "r", 0L))
                .isInstanceOfSatisfying(PeftFormatException.class, e -> assertThat(e.reason()).isEqualTo("model"));
    }

    @Test
    void importDryRunShouldReadTheFilesHereAndSendNothing() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = AdaptersCli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));

        int code = cli.execute("import", "--task", "squad", "--trainer-url", "http://127.0.0.1:1", "--dry-run",
                FIXTURES.resolve("tiny-gpt2/peft/prompt-tuning").toString());

        assertThat(code).as(err.toString()).isZero();
        assertThat(out.toString()).contains("(PROMPT_TUNING, [4, 64] FLOAT32); the files are well-formed; nothing sent");
    }

    @Test
    void importShouldSayWhenTheTrainerCannotBeReached() {
        StringWriter err = new StringWriter();
        CommandLine cli = AdaptersCli.commandLine();
        cli.setOut(new PrintWriter(new StringWriter(), true));
        cli.setErr(new PrintWriter(err, true));

        int code = cli.execute("import", "--task", "squad", "--trainer-url", "http://127.0.0.1:1", "--timeout", "PT5S",
                FIXTURES.resolve("tiny-gpt2/peft/prompt-tuning").toString());

        assertThat(code).isEqualTo(1);
        assertThat(err.toString()).contains("import failed: the trainer's API at http://127.0.0.1:1 cannot be reached");
    }

    @Test
    void helpShouldListBothCommands() {
        StringWriter out = new StringWriter();
        CommandLine cli = AdaptersCli.commandLine();
        cli.setOut(new PrintWriter(out, true));

        assertThat(cli.execute("--help")).isZero();
        assertThat(cli.execute("export", "--help")).isZero();
        assertThat(out.toString()).contains("export", "import", "--adapter-version", "--base-model");
    }

    private static TaskTemplate template(int tokens) {
        return TaskTemplate.newBuilder().setTask("squad").setPromptTemplate("<|VIRTUAL_PROMPT_0|> Q: {question}\nA:{answer}")
                .setPromptTemplateFields(List.of("question", "answer")).setAnswerField("answer")
                .setVirtualTokenSplits(List.of(tokens)).setTotalVirtualTokens(tokens)
                .setTuning(TuningSettings.newBuilder().setVirtualPromptStyle(VirtualPromptStyle.P_TUNING).build()).build();
    }
}
