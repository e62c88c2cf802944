package io.tunestream.serving.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tunestream.model.prompt.VirtualTokenTable;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.tensor.TensorCodec;
import io.tunestream.serving.testing.Fixtures;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decoded adapter tables stay within their bound in bytes and always match the record they came from. */
class AdapterTableCacheTest {

    private static final String MODEL = "model-sha256";
    private static final int HIDDEN = 8;
    private static final int ROWS = 4;
    /** One 4 × 8 float table: 128 bytes of floats plus the entry overhead. */
    private static final long ENTRY = ROWS * HIDDEN * Float.BYTES + AdapterTableCache.ENTRY_OVERHEAD_BYTES;

    private static AdapterVersion adapter(String task, int version) {
        return Fixtures.adapter(task, version, MODEL, HIDDEN, ROWS);
    }

    @Test
    void shouldDecodeOnceAndShareTheTableWhileItIsKept() {
        var cache = new AdapterTableCache(10 * ENTRY);

        var first = cache.tables(adapter("a", 1));
        var second = cache.tables(adapter("a", 1));

        assertThat(second.virtualTokens().orElseThrow()).isSameAs(first.virtualTokens().orElseThrow());
        assertThat(first.virtualTokens().orElseThrow().values()).containsOnly(0.1f);
        assertThat(first.deepPrompt()).isEmpty();
        assertThat(cache.stats()).isEqualTo(new AdapterTableCache.Stats(1, 1, 0, 1, ENTRY));
    }

    /**
     * W-TinyLFU, not strict LRU: which of the versions used once goes is the cache's choice; that the bound holds,
     * the eviction is counted and the version used twice stays are ours.
     */
    @Test
    void shouldKeepAVersionUsedAgainAndStayWithinTheBoundWhenAnotherNeedsRoom() {
        var cache = new AdapterTableCache(3 * ENTRY);
        VirtualTokenTable a = cache.tables(adapter("a", 1)).virtualTokens().orElseThrow();
        cache.tables(adapter("b", 1));
        cache.tables(adapter("c", 1));
        cache.tables(adapter("a", 1));

        cache.tables(adapter("d", 1));

        assertThat(cache.stats()).isEqualTo(new AdapterTableCache.Stats(1, 4, 1, 3, 3 * ENTRY));
        assertThat(cache.bytes()).isLessThanOrEqualTo(cache.maxBytes());
        assertThat(cache.tables(adapter("a", 1)).virtualTokens().orElseThrow()).isSameAs(a);
    }

    @Test
    void shouldDecodeAnEvictedVersionAgainIntoAnEqualTable() {
        var cache = new AdapterTableCache(ENTRY);
        cache.tables(adapter("a", 1));
        cache.tables(adapter("b", 1));
        assertThat(cache.stats().evictions()).isEqualTo(1);
        long missesBefore = cache.stats().misses();

        VirtualTokenTable a = cache.tables(adapter("a", 1)).virtualTokens().orElseThrow();
        VirtualTokenTable b = cache.tables(adapter("b", 1)).virtualTokens().orElseThrow();

        assertThat(cache.stats().misses()).as("one of the two was evicted and decoded again").isGreaterThan(missesBefore);
        assertThat(a).isEqualTo(AdapterTableCache.decode(adapter("a", 1)).virtualTokens().orElseThrow());
        assertThat(b).isEqualTo(AdapterTableCache.decode(adapter("b", 1)).virtualTokens().orElseThrow());
        assertThat(b.values()).containsOnly(0.1f);
        assertThat(cache.bytes()).isEqualTo(ENTRY);
    }

    @Test
    void shouldKeepPinnedAndLatestVersionsOfATaskApart() {
        var cache = new AdapterTableCache(10 * ENTRY);

        var v1 = cache.tables(adapter("squad", 1)).virtualTokens().orElseThrow();
        var v2 = cache.tables(adapter("squad", 2)).virtualTokens().orElseThrow();

        assertThat(v1.values()).containsOnly(0.1f);
        assertThat(v2.values()).containsOnly(0.2f);
        assertThat(cache.tables(adapter("squad", 1)).virtualTokens().orElseThrow()).isSameAs(v1);
        assertThat(cache.stats().entries()).isEqualTo(2);
    }

    @Test
    void shouldNotServeAnOldTableForAVersionPublishedAgainWithOtherContent() {
        var cache = new AdapterTableCache(10 * ENTRY);
        cache.tables(adapter("a", 1));
        AdapterVersion republished = AdapterVersion.newBuilder(adapter("a", 1))
                .setTable(TensorCodec.encodeMatrix("virtual_tokens", filled(ROWS * HIDDEN, 0.7f), ROWS, HIDDEN,
                        DType.FLOAT32))
                .build();

        assertThat(cache.tables(republished).virtualTokens().orElseThrow().values()).containsOnly(0.7f);
    }

    /**
     * A signed version is known by its signature, which the store verified against the content when the version
     * entered it: a lookup does not read the table again. The record below carries a verified version's signature
     * over other bytes, which the store would have refused: it is what shows the table bytes were not read.
     */
    @Test
    void shouldKnowASignedVersionByItsSignature() {
        var cache = new AdapterTableCache(10 * ENTRY);
        AdapterVersion signed = signed(adapter("a", 1), (byte) 1);
        var first = cache.tables(signed).virtualTokens().orElseThrow();
        AdapterVersion sameSignatureOtherBytes = AdapterVersion.newBuilder(signed)
                .setTable(TensorCodec.encodeMatrix("virtual_tokens", filled(ROWS * HIDDEN, 0.7f), ROWS, HIDDEN,
                        DType.FLOAT32))
                .build();

        assertThat(cache.tables(sameSignatureOtherBytes).virtualTokens().orElseThrow()).isSameAs(first);
        AdapterVersion signedAgain = signed(sameSignatureOtherBytes, (byte) 2);
        assertThat(cache.tables(signedAgain).virtualTokens().orElseThrow().values()).containsOnly(0.7f);
        assertThat(first.values()).containsOnly(0.1f);
        assertThat(cache.stats()).isEqualTo(new AdapterTableCache.Stats(1, 2, 0, 2, 2 * ENTRY));
    }

    @Test
    void shouldUseButNotKeepATableLargerThanTheBound() {
        var cache = new AdapterTableCache(ENTRY - 1);

        var tables = cache.tables(adapter("a", 1));

        assertThat(tables.virtualTokens().orElseThrow().values()).hasSize(ROWS * HIDDEN);
        assertThat(cache.stats()).isEqualTo(new AdapterTableCache.Stats(0, 1, 1, 0, 0));
    }

    @Test
    void shouldDecodeEveryTimeWithABoundOfZero() {
        var cache = new AdapterTableCache(0);

        var first = cache.tables(adapter("a", 1)).virtualTokens().orElseThrow();
        var second = cache.tables(adapter("a", 1)).virtualTokens().orElseThrow();

        assertThat(second).isEqualTo(first).isNotSameAs(first);
        assertThat(cache.stats().entries()).isZero();
        assertThatThrownBy(() -> new AdapterTableCache(-1)).hasMessageContaining("must be >= 0, got -1");
    }

    @Test
    void shouldDecodeADeepPromptIntoItsPerLayerTable() {
        int layers = 2;
        int kvHeads = 1;
        int headDim = 4;
        int width = 2 * layers * kvHeads * headDim;
        AdapterVersion deep = AdapterVersion.newBuilder(adapter("deep", 3))
                .setTable(TensorCodec.encodeMatrix("prefix", filled(ROWS * width, 0.5f), ROWS, width, DType.FLOAT32))
                .setDeepPrompt(new DeepPromptShape(layers, kvHeads, headDim))
                .build();
        var cache = new AdapterTableCache(10 * ENTRY);

        var tables = cache.tables(deep);

        assertThat(tables.virtualTokens()).isEmpty();
        var prefix = tables.deepPrompt().orElseThrow();
        assertThat(List.of(prefix.virtualTokens(), prefix.layers(), prefix.kvHeads(), prefix.headDim()))
                .containsExactly(ROWS, layers, kvHeads, headDim);
        assertThat(prefix.values()).hasSize(ROWS * width).containsOnly(0.5f);
    }

    @Test
    void shouldHoldNoMoreThanItsBoundAfterThousandsOfTasks() {
        long bound = 100 * ENTRY + ENTRY / 2;
        var cache = new AdapterTableCache(bound);

        for (int task = 0; task < 5_000; task++) {
            cache.tables(adapter("task-" + task, 1 + task % 3));
        }

        assertThat(cache.bytes()).isLessThanOrEqualTo(bound);
        assertThat(cache.stats().entries()).isEqualTo(100);
        assertThat(cache.stats().evictions()).isEqualTo(4_900);
    }

    /** {@code adapter} with a 64-byte signature of {@code fill} bytes (the cache does not verify it). */
    private static AdapterVersion signed(AdapterVersion adapter, byte fill) {
        byte[] signature = new byte[64];
        java.util.Arrays.fill(signature, fill);
        return AdapterVersion.newBuilder(adapter).setSignatureKeyId("trainer-1")
                .setSignature(java.nio.ByteBuffer.wrap(signature)).build();
    }

    private static float[] filled(int n, float value) {
        float[] values = new float[n];
        java.util.Arrays.fill(values, value);
        return values;
    }
}
