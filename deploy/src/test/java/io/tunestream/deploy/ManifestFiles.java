package io.tunestream.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The YAML files of {@code k8s/}: the kustomizations, and every other file, which holds resources or
 * patches of resources (one or more documents each).
 */
final class ManifestFiles {

    /** One YAML document of a manifest file. */
    record Document(Path file, int index, JsonNode tree) {
        String where() {
            return k8s().getParent().relativize(file) + " #" + (index + 1) + " (" + tree.path("kind").asText() + " "
                    + tree.path("metadata").path("name").asText() + ")";
        }
    }

    private static final YAMLMapper YAML = new YAMLMapper();

    private ManifestFiles() {
    }

    /** The checkout's {@code k8s/} directory (the build passes the checkout root as {@code tunestream.home}). */
    static Path k8s() {
        return home().resolve("k8s");
    }

    static Path home() {
        return Path.of(System.getProperty("tunestream.home", "..")).toAbsolutePath().normalize();
    }

    /** Every {@code *.yaml} file under {@code dir} (sorted), kustomizations included. */
    static List<Path> yamlFiles(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    static boolean isKustomization(Path file) {
        return file.getFileName().toString().equals("kustomization.yaml");
    }

    /** The documents of every resource and patch file under {@code dir} (kustomizations left out). */
    static List<Document> documents(Path dir) {
        List<Document> documents = new ArrayList<>();
        for (Path file : yamlFiles(dir)) {
            if (!isKustomization(file)) {
                documents.addAll(read(file));
            }
        }
        return documents;
    }

    /** The non-empty documents of {@code file}. */
    static List<Document> read(Path file) {
        List<Document> documents = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            int index = 0;
            while (it.hasNextValue()) {
                JsonNode tree = it.nextValue();
                if (tree != null && !tree.isNull() && !tree.isMissingNode() && tree.size() > 0) {
                    documents.add(new Document(file, index, tree));
                }
                index++;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return documents;
    }

    /** The documents of a YAML text, e.g. what {@code kubectl kustomize} printed. */
    static List<Document> read(Path origin, String yaml) {
        List<Document> documents = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            int index = 0;
            while (it.hasNextValue()) {
                JsonNode tree = it.nextValue();
                if (tree != null && tree.size() > 0) {
                    documents.add(new Document(origin, index, tree));
                }
                index++;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the output for " + origin, e);
        }
        return documents;
    }

    /** The files a kustomization names (resources, components, patch paths), resolved against its directory. */
    static List<Path> referencedBy(Path kustomization) {
        JsonNode tree = read(kustomization).get(0).tree();
        List<Path> referenced = new ArrayList<>();
        Path dir = kustomization.getParent();
        for (String key : List.of("resources", "components")) {
            tree.path(key).forEach(entry -> referenced.add(dir.resolve(entry.asText()).normalize()));
        }
        tree.path("patches").forEach(patch -> {
            if (patch.has("path")) {
                referenced.add(dir.resolve(patch.get("path").asText()).normalize());
            }
        });
        return referenced;
    }
}
