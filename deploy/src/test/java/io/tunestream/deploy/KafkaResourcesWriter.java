package io.tunestream.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes {@code topics.yaml} and {@code users.yaml} (the KafkaTopics of the catalogue and the KafkaUsers of
 * the least-privilege table) into the directory given as the argument: {@code ./mvnw -B -q -pl deploy -am
 * test-compile -Pwrite-k8s}.
 */
public final class KafkaResourcesWriter {

    private KafkaResourcesWriter() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: KafkaResourcesWriter <directory of topics.yaml and users.yaml>");
        }
        Path dir = Path.of(args[0]);
        Files.writeString(dir.resolve("topics.yaml"), KafkaResources.topicsYaml());
        Files.writeString(dir.resolve("users.yaml"), KafkaResources.usersYaml());
        System.out.println("wrote " + dir.resolve("topics.yaml") + " and " + dir.resolve("users.yaml"));
    }
}
