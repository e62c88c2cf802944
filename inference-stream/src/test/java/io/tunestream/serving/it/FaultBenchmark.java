package io.tunestream.serving.it;

import io.tunestream.devkit.LocalPlatform;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fault table of BENCHMARKS.md: every scenario of {@link FaultScenarios} at benchmark scale
 * (thousands of requests over several tasks, adapters republished every second, the registry down 60 s),
 * on a platform of its own; prints one Markdown row per scenario (lines starting with {@code FAULTS}),
 * asserts nothing. Not part of the test suite (its name matches neither *Test nor *IT); run it with
 * <pre>
 * ./mvnw -B -ntp -pl inference-stream -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dit.test=FaultBenchmark -Dfailsafe.failIfNoSpecifiedTests=false
 * </pre>
 * A scenario that throws (e.g. serving refuses a setting it does not have yet) gets a row saying so.
 */
class FaultBenchmark {

    private interface Scenario {
        FaultReport run(FaultScenarios scenarios) throws Exception;
    }

    private record Named(String name, Scenario scenario) {
    }

    @Test
    void measure() {
        var scenarios = List.of(
                new Named("serving SIGKILLed mid-batch, survivor takes over, restarted", FaultScenarios::servingKilledMidBatch),
                new Named("broker stopped and restarted", FaultScenarios::brokerRestart),
                new Named("registry stopped 60 s and restarted", FaultScenarios::registryOutage),
                new Named("serving restarted while the registry is down (cold caches)",
                        FaultScenarios::servingRestartWhileRegistryDown),
                new Named("poison in requests, adapters and task-templates", FaultScenarios::poisonRecords),
                new Named("oversized requests and answers", FaultScenarios::oversizedRecords),
                new Named("a model call that hangs", FaultScenarios::hungModel));
        var rows = new ArrayList<String>();
        try (LocalPlatform platform = LocalPlatform.start()) {
            var faults = new FaultScenarios(platform, FaultScenarios.Scale.benchmark());
            for (Named named : scenarios) {
                long start = System.nanoTime();
                String row;
                try {
                    FaultReport report = named.scenario().run(faults);
                    row = report.row();
                    System.out.println("FAULTS details " + report.details().replace("\n", "\nFAULTS details "));
                } catch (Exception | AssertionError e) {
                    row = "| " + named.name() + " | failed: " + e.toString().replace("|", "/").replace("\n", " ")
                            + " | | | | | | | |";
                }
                System.out.printf("FAULTS %s (%.0f s)%n", row, (System.nanoTime() - start) / 1e9);
                rows.add(row);
            }
        }
        System.out.println("FAULTS table (" + Runtime.getRuntime().availableProcessors() + " cores)\n" + FaultReport.HEADER);
        rows.forEach(row -> System.out.println(row));
    }
}
