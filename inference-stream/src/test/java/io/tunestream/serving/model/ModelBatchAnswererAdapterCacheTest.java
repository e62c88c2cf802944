package io.tunestream.serving.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.model.onnx.RuntimeConfig;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Serving many tasks' adapters keeps their decoded tables within adapters.cache.bytes and answers as without it. */
class ModelBatchAnswererAdapterCacheTest {

    private static final int TASKS = 40;
    private static final int ROWS = 4;
    private static ModelBatchAnswerer bounded;
    private static ModelBatchAnswerer uncached;
    private static long bound;

    @BeforeAll
    static void load() {
        uncached = ModelBatchAnswerer.load(ModelBatchAnswererTest.tinyGpt2(), RuntimeConfig.cpu(1), 0, 0);
        long entry = (long) ROWS * uncached.model().hiddenSize() * Float.BYTES + AdapterTableCache.ENTRY_OVERHEAD_BYTES;
        bound = 5 * entry;
        bounded = ModelBatchAnswerer.load(ModelBatchAnswererTest.tinyGpt2(), RuntimeConfig.cpu(1), 0, bound);
    }

    @AfterAll
    static void close() {
        bounded.close();
        uncached.close();
    }

    @Test
    void shouldAnswerManyTasksAsWithoutTheCacheWhileHoldingAtMostItsBound() {
        var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
        new io.tunestream.serving.ops.ServingMetrics(registry).bindAdapterTables(bounded.adapterTableCache().orElseThrow());
        var items = new ArrayList<BatchItem>();
        for (int task = 0; task < TASKS; task++) {
            String name = "task-" + task;
            // versions 1..9 give tables 0.1 .. 0.9: rows of different tasks answer differently
            var adapter = Fixtures.adapter(name, 1 + task % 9, uncached.model().fingerprint(),
                    uncached.model().hiddenSize(), ROWS);
            items.add(new BatchItem(Fixtures.squadRequest("r" + task, name), Fixtures.squad(name, ROWS),
                    Optional.of(adapter)));
        }

        for (int start = 0; start < TASKS; start += 8) {
            List<BatchItem> batch = items.subList(start, start + 8);
            List<BatchOutcome> expected = uncached.answer(batch);
            assertThat(expected).allSatisfy(o -> assertThat(o).isInstanceOf(BatchOutcome.Generated.class));
            assertThat(bounded.answer(batch)).isEqualTo(expected);
            assertThat(bounded.adapterTables().bytes()).isLessThanOrEqualTo(bound);
        }
        var stats = bounded.adapterTables().stats();
        assertThat(stats.entries()).isEqualTo(5);
        assertThat(stats.misses()).isEqualTo(TASKS);
        assertThat(stats.evictions()).isEqualTo(TASKS - 5);
        assertThat(uncached.adapterTables().stats().entries()).isZero();
        assertThat(registry.get("tunestream.adapter.tables.misses").functionCounter().count()).isEqualTo(TASKS);
        assertThat(registry.get("tunestream.adapter.tables.evictions").functionCounter().count()).isEqualTo(TASKS - 5);
        assertThat(registry.get("tunestream.adapter.tables.entries").gauge().value()).isEqualTo(5);
        assertThat(registry.get("tunestream.adapter.tables.bytes").gauge().value()).isEqualTo(stats.bytes())
                .isPositive();
    }
}
