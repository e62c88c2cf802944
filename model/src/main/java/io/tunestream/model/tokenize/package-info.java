/**
 * Text to token ids and back: {@link io.tunestream.model.tokenize.TextTokenizer}, implemented offline from a
 * model directory's {@code tokenizer.json} by {@link io.tunestream.model.tokenize.HuggingFaceTextTokenizer}.
 */
package io.tunestream.model.tokenize;
