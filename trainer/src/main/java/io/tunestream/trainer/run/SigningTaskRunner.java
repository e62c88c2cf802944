package io.tunestream.trainer.run;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.adapters.AdapterCheck;
import io.tunestream.schemas.adapters.AdapterSigner;
import io.tunestream.trainer.state.TaskSnapshot;
import java.util.Objects;
import java.util.Optional;

/**
 * Signs the adapter of every published outcome of {@code delegate} with the trainer's key
 * ({@link AdapterSigner}), so serving can tell a table this trainer produced from one written by
 * anyone else with access to the topic. The version is signed as published: nothing changes it
 * afterwards. Closes the delegate when it owns resources (the model).
 */
public final class SigningTaskRunner implements TaskRunner, AutoCloseable {

    private final TaskRunner delegate;
    private final AdapterSigner signer;

    public SigningTaskRunner(TaskRunner delegate, AdapterSigner signer) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        this.signer = Objects.requireNonNull(signer, "signer");
    }

    @Override
    public RunOutcome run(TaskSnapshot snapshot, String runId, Progress progress) {
        RunOutcome outcome = delegate.run(snapshot, runId, progress);
        if (outcome instanceof RunOutcome.Published published) {
            return published.withAdapter(seal(published.adapter()));
        }
        return outcome;
    }

    @Override
    public Optional<AdapterCheck> adapterCheck() {
        return delegate.adapterCheck();
    }

    /** Signed with the trainer's key; the version and every signed field as they will be published. */
    @Override
    public AdapterVersion seal(AdapterVersion adapter) {
        return signer.sign(adapter);
    }

    @Override
    public void close() {
        if (delegate instanceof AutoCloseable closeable) {
            try {
                closeable.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("closing the task runner failed: " + e, e);
            }
        }
    }
}
