package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import io.tunestream.model.TestModels;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

/** tiny-gpt2's graphs as the decode-chunk tests start from them: the rewritten export, and its in-place step. */
final class TinyGpt2Graphs {

    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int HEAD_DIM = 16;

    private TinyGpt2Graphs() {
    }

    /** The export with inputs_embeds in place of input_ids, and its token embedding table. */
    static InputsEmbedsRewrite.Rewritten rewritten() {
        try {
            return InputsEmbedsRewrite.rewrite(OnnxMl.ModelProto.parseFrom(
                    Files.readAllBytes(TestModels.model("tiny-gpt2").resolve("model.onnx"))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The in-place decode step: last-position logits, GroupQueryAttention over fixed-capacity buffers. */
    static OnnxMl.ModelProto decode(InputsEmbedsRewrite.Rewritten rewritten) {
        return GroupQueryAttentionRewrite.rewrite(SingleInputConcatRemoval.rewrite(LastTokenLogits.rewrite(rewritten.model())),
                LAYERS, HEADS, HEADS);
    }
}
