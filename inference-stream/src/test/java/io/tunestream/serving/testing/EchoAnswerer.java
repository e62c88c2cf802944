package io.tunestream.serving.testing;

import io.tunestream.schemas.FinishReason;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

/**
 * A deterministic stand-in for the model: answers {@code task|v<version or base>|<sorted field values>},
 * one completion token per field, and remembers the request ids of every batch it ran.
 */
public final class EchoAnswerer implements BatchAnswerer {

    public static final ServingModelInfo MODEL = new ServingModelInfo("fake-model-sha256", 8, 128);

    private final List<List<String>> batches = new CopyOnWriteArrayList<>();

    @Override
    public ServingModelInfo model() {
        return MODEL;
    }

    @Override
    public List<BatchOutcome> answer(List<BatchItem> items) {
        batches.add(items.stream().map(BatchItem::requestId).toList());
        return items.stream().<BatchOutcome>map(EchoAnswerer::echo).toList();
    }

    private static BatchOutcome echo(BatchItem item) {
        String values = item.request().getFields().entrySet().stream()
                .sorted(java.util.Map.Entry.comparingByKey())
                .map(java.util.Map.Entry::getValue)
                .collect(Collectors.joining(","));
        String text = item.task() + "|" + item.adapter().map(a -> "v" + a.getVersion()).orElse("base") + "|" + values;
        return new BatchOutcome.Generated(text, 10, item.request().getFields().size(), FinishReason.LENGTH);
    }

    /** Request ids of each batch run so far, in order. */
    public List<List<String>> batches() {
        return List.copyOf(batches);
    }
}
