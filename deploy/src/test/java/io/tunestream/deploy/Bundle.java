package io.tunestream.deploy;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A set of typed manifests: the files under a directory, or what {@code kubectl kustomize} rendered for an
 * overlay.
 *
 * @param name   what the bundle is, for messages
 * @param typed  every document with its model
 */
record Bundle(String name, List<TypedManifests.Typed> typed) {

    /** The typed documents of every resource and patch file under {@code dir}. */
    static Bundle of(Path dir) {
        List<TypedManifests.Typed> typed = new ArrayList<>();
        for (ManifestFiles.Document document : ManifestFiles.documents(dir)) {
            typed.add(TypedManifests.parse(document));
        }
        return new Bundle(ManifestFiles.k8s().getParent().relativize(dir).toString(), typed);
    }

    /** The typed documents of a rendered overlay. */
    static Bundle rendered(Path overlay, String yaml) {
        List<TypedManifests.Typed> typed = new ArrayList<>();
        for (ManifestFiles.Document document : ManifestFiles.read(overlay, yaml)) {
            typed.add(TypedManifests.parse(document));
        }
        return new Bundle("kubectl kustomize " + ManifestFiles.k8s().getParent().relativize(overlay), typed);
    }

    <T> List<T> all(Class<T> type) {
        return typed.stream().map(TypedManifests.Typed::model).filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> Optional<T> find(Class<T> type, String name) {
        return all(type).stream().filter(r -> name.equals(r.getMetadata().getName())).findFirst();
    }

    <T extends HasMetadata> T get(Class<T> type, String name) {
        return find(type, name).orElseThrow(() -> new AssertionError(this.name + " has no " + type.getSimpleName()
                + " named " + name));
    }
}
