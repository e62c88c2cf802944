package io.tunestream.serving.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.schemas.AdapterVersion;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.ops.ServingMetrics;
import io.tunestream.serving.testing.Fixtures;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Serving with the prefix cache answers as serving without it, and exports what the cache does. */
class ModelBatchAnswererPrefixCacheTest {

    private static ModelBatchAnswerer cached;
    private static ModelBatchAnswerer uncached;

    @BeforeAll
    static void load() {
        cached = ModelBatchAnswerer.load(ModelBatchAnswererTest.tinyGpt2(), RuntimeConfig.cpu(1), 8L << 20);
        uncached = ModelBatchAnswerer.load(ModelBatchAnswererTest.tinyGpt2(), RuntimeConfig.cpu(1), 0);
    }

    @AfterAll
    static void close() {
        cached.close();
        uncached.close();
    }

    private static AdapterVersion adapter(int version) {
        return Fixtures.adapter("squad", version, cached.model().fingerprint(), cached.model().hiddenSize(), 4);
    }

    @Test
    void shouldAnswerAMixedBatchAsWithoutTheCacheAndCountHitsMissesAndBytes() {
        List<BatchItem> batch = List.of(
                new BatchItem(Fixtures.squadRequest("a", "squad"), Fixtures.squad("squad", 4), Optional.of(adapter(1))),
                new BatchItem(Fixtures.squadRequest("b", "squad"), Fixtures.squad("squad", 4), Optional.of(adapter(2))),
                new BatchItem(Fixtures.assistantRequest("c", "assistant"), Fixtures.assistant("assistant", 4),
                        Optional.empty()),
                new BatchItem(Fixtures.squadRequest("d", "squad"), Fixtures.squad("squad", 4), Optional.of(adapter(1))));
        var registry = new SimpleMeterRegistry();
        new ServingMetrics(registry).bindPrefixCache(cached.prefixCache().orElseThrow());

        List<BatchOutcome> expected = uncached.answer(batch);
        List<BatchOutcome> first = cached.answer(batch);
        List<BatchOutcome> second = cached.answer(batch);

        assertThat(expected).allSatisfy(o -> assertThat(o).isInstanceOf(BatchOutcome.Generated.class));
        assertThat(first).isEqualTo(expected);
        assertThat(second).isEqualTo(expected);
        assertThat(uncached.prefixCache()).isEmpty();
        // three keys (squad v1, squad v2, assistant's base prompt); row d hits v1 in the first batch, every row in the second
        assertThat(registry.get("tunestream.prefix.cache.misses").functionCounter().count()).isEqualTo(3);
        assertThat(registry.get("tunestream.prefix.cache.hits").functionCounter().count()).isEqualTo(5);
        assertThat(registry.get("tunestream.prefix.cache.evictions").functionCounter().count()).isZero();
        assertThat(registry.get("tunestream.prefix.cache.reused.positions").functionCounter().count()).isPositive();
        assertThat(registry.get("tunestream.prefix.cache.entries").gauge().value()).isEqualTo(3);
        assertThat(registry.get("tunestream.prefix.cache.bytes").gauge().value())
                .isEqualTo(cached.prefixCache().orElseThrow().bytes()).isPositive();
    }
}
