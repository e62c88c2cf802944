package io.tunestream.model.onnx;

/**
 * What a decode-chunk run needs of each row to choose its tokens inside the model, in row order.
 *
 * @param tokens       the token to feed first: the row's last chosen one
 * @param remaining    tokens the row may still choose before it has its length (at least 1)
 * @param generated    tokens the row chose so far
 * @param minNewTokens end-of-sequence is suppressed while the row has chosen fewer
 */
public record ChunkRows(int[] tokens, int[] remaining, int[] generated, int[] minNewTokens) {

    public ChunkRows {
        int batch = tokens.length;
        if (batch == 0 || remaining.length != batch || generated.length != batch || minNewTokens.length != batch) {
            throw new IllegalArgumentException("a chunk takes one token, remaining, generated and minNewTokens a row, got "
                    + tokens.length + ", " + remaining.length + ", " + generated.length + ", " + minNewTokens.length);
        }
        for (int b = 0; b < batch; b++) {
            if (remaining[b] < 1) {
                throw new IllegalArgumentException("row " + b + " has no token left to choose (remaining " + remaining[b] + ")");
            }
        }
    }
}
