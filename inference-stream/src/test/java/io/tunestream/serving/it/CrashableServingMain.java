package io.tunestream.serving.it;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tunestream.serving.ServingApp;
import io.tunestream.serving.ServingConfig;
import io.tunestream.serving.batch.BatchAnswerer;
import io.tunestream.serving.batch.BatchItem;
import io.tunestream.serving.batch.BatchOutcome;
import io.tunestream.serving.batch.ServingModelInfo;
import io.tunestream.serving.testing.EchoAnswerer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The serving app in a child JVM for the crash test, with the echo model. Prints {@code RUNNING} once
 * Kafka Streams runs, {@code ANSWERED <id,id>} after each batch the model completes, and
 * {@code STALLED <ids>} when it enters batch number {@code stallAt} (counted from 1; 0 never), where
 * it then hangs until the test kills the JVM.
 *
 * <p>Arguments: the serving properties file, {@code stallAt}.
 */
public final class CrashableServingMain {

    public static void main(String[] args) throws Exception {
        ServingConfig config = ServingConfig.load(Optional.of(Path.of(args[0])), Map.of());
        int stallAt = Integer.parseInt(args[1]);
        var echo = new EchoAnswerer();
        var batches = new AtomicInteger();
        BatchAnswerer answerer = new BatchAnswerer() {
            @Override
            public ServingModelInfo model() {
                return echo.model();
            }

            @Override
            public List<BatchOutcome> answer(List<BatchItem> items) {
                if (batches.incrementAndGet() == stallAt) {
                    System.out.println("STALLED " + items.stream().map(BatchItem::requestId).toList());
                    System.out.flush();
                    try {
                        Thread.sleep(Long.MAX_VALUE);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted while stalled", e);
                    }
                }
                List<BatchOutcome> outcomes = echo.answer(items);
                System.out.println("ANSWERED " + String.join(",", items.stream().map(BatchItem::requestId).toList()));
                System.out.flush();
                return outcomes;
            }
        };
        var app = new ServingApp(config, answerer, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
        while (app.state() != KafkaStreams.State.RUNNING) {
            Thread.sleep(20);
        }
        System.out.println("RUNNING");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
