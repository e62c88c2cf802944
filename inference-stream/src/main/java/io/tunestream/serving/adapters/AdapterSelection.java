package io.tunestream.serving.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.AnswerError;
import io.tunestream.schemas.ErrorKind;
import io.tunestream.schemas.InferenceRequest;
import io.tunestream.schemas.TaskTemplate;
import java.util.Optional;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * Which adapter a request runs with, decided when its batch runs (so a version published while it
 * waited is used): the pinned version if the request names one, else the task's latest, else the
 * plain base model if the template allows it.
 */
public sealed interface AdapterSelection {

    /** Run with {@code adapter}; empty means the plain base model. */
    record Use(Optional<AdapterVersion> adapter) implements AdapterSelection {
    }

    /** The request cannot run; answer it with {@code error}. */
    record Refuse(AnswerError error) implements AdapterSelection {
    }

    static AdapterSelection select(ReadOnlyKeyValueStore<String, AdapterVersion> adapters, InferenceRequest request,
                                   TaskTemplate template) {
        String where = "request " + request.getRequestId() + ", task " + request.getTask();
        Integer pinned = request.getAdapterVersion();
        Optional<AdapterVersion> adapter;
        if (pinned != null) {
            adapter = AdapterStore.version(adapters, request.getTask(), pinned);
            if (adapter.isEmpty()) {
                String latest = AdapterStore.latest(adapters, request.getTask())
                        .map(a -> "latest accepted is v" + a.getVersion()).orElse("the task has no accepted adapter");
                return refuse(ErrorKind.NO_ADAPTER, where + ": pinned adapter version " + pinned
                        + " is not available (" + latest + "; only recent accepted versions are kept)");
            }
        } else {
            adapter = AdapterStore.latest(adapters, request.getTask());
            if (adapter.isEmpty()) {
                if (template.getAllowBaseModel()) {
                    return new Use(Optional.empty());
                }
                return refuse(ErrorKind.NO_ADAPTER, where
                        + ": no adapter published for the task and its template does not allow the base model");
            }
        }
        AdapterVersion a = adapter.get();
        if (!a.getVirtualTokenSplits().equals(template.getVirtualTokenSplits())) {
            return refuse(ErrorKind.ADAPTER_MISMATCH, where + ": adapter v" + a.getVersion()
                    + " was tuned with virtualTokenSplits " + a.getVirtualTokenSplits()
                    + " but the task's template has " + template.getVirtualTokenSplits());
        }
        return new Use(adapter);
    }

    private static AdapterSelection refuse(ErrorKind kind, String message) {
        return new Refuse(new AnswerError(kind, message));
    }
}
