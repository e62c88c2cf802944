package io.tunestream.model.tokenize;

/**
 * Text to token ids and back, without special tokens: prompt building adds what the template says
 * and nothing else.
 */
public interface TextTokenizer {

    /** Token ids of {@code text} (no BOS/EOS added). */
    int[] encode(String text);

    /** Text of {@code ids}, special tokens skipped. */
    String decode(int[] ids);
}
