package io.tunestream.schemas.adapters;

import io.tunestream.schemas.AdapterVersion;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Decides whether a published adapter was signed by a trusted trainer key ({@link AdapterSigner}):
 * the signature must verify over {@link AdapterCanonicalBytes} with the public key its key id names.
 * Several keys may be trusted at once, so a trainer key can be rotated without refusing versions
 * signed with the previous one. Serving runs it next to {@link AdapterCheck}; refusals use the same
 * {@link AdapterCheck.Refusal} (reasons {@code unsigned}, {@code unknown_key}, {@code signature}).
 *
 * @param enabled        whether signatures are checked at all ({@code false}: every adapter passes)
 * @param trustedKeys    public keys by key id
 * @param acceptUnsigned migration setting: versions without a signature pass (a present but bad
 *                       signature is still refused)
 */
public record AdapterVerifier(boolean enabled, Map<String, PublicKey> trustedKeys, boolean acceptUnsigned) {

    public AdapterVerifier {
        trustedKeys = Map.copyOf(Objects.requireNonNull(trustedKeys, "trustedKeys"));
        if (enabled && trustedKeys.isEmpty()) {
            throw new IllegalArgumentException("adapter signature verification is on but no trusted public key"
                    + " is configured");
        }
    }

    /** Verification on, trusting {@code trustedKeys}; unsigned versions refused. */
    public static AdapterVerifier trusting(Map<String, PublicKey> trustedKeys) {
        return new AdapterVerifier(true, trustedKeys, false);
    }

    /** No verification: every adapter passes (only by explicit configuration). */
    public static AdapterVerifier off() {
        return new AdapterVerifier(false, Map.of(), false);
    }

    /** Verification on, trusting the public key files by key id (see {@link AdapterKeys}). */
    public static AdapterVerifier trustingFiles(Map<String, Path> keyFiles, boolean acceptUnsigned) {
        Map<String, PublicKey> keys = new LinkedHashMap<>();
        keyFiles.forEach((id, file) -> keys.put(id, AdapterKeys.readPublicKey(file)));
        return new AdapterVerifier(true, keys, acceptUnsigned);
    }

    /**
     * The key files of a trusted-keys setting: {@code id=path} entries separated by commas, e.g.
     * {@code trainer-2026a=/keys/a.pub.pem,trainer-2026b=/keys/b.pub.pem}.
     *
     * @throws IllegalArgumentException naming the entry that is not {@code id=path} or repeats an id
     */
    public static Map<String, Path> parseTrustedKeys(String setting) {
        Map<String, Path> files = new LinkedHashMap<>();
        for (String entry : setting.split(",")) {
            String trimmed = entry.trim();
            if (trimmed.isEmpty()) {
                continue;
            }
            int equals = trimmed.indexOf('=');
            if (equals <= 0 || equals == trimmed.length() - 1) {
                throw new IllegalArgumentException("trusted key entry '" + trimmed + "' is not keyId=path");
            }
            String id = trimmed.substring(0, equals).trim();
            if (files.put(id, Path.of(trimmed.substring(equals + 1).trim())) != null) {
                throw new IllegalArgumentException("trusted key id '" + id + "' is given twice");
            }
        }
        return files;
    }

    /** This verifier with the migration setting {@code accept}. */
    public AdapterVerifier acceptingUnsigned(boolean accept) {
        return new AdapterVerifier(enabled, trustedKeys, accept);
    }

    /** Empty when {@code adapter} may be applied, otherwise why not. */
    public Optional<AdapterCheck.Refusal> refusal(AdapterVersion adapter) {
        if (!enabled) {
            return Optional.empty();
        }
        String id = "adapter " + adapter.getTask() + " v" + adapter.getVersion();
        String keyId = adapter.getSignatureKeyId();
        ByteBuffer signature = adapter.getSignature();
        if (keyId == null && signature == null) {
            return acceptUnsigned ? Optional.empty() : Optional.of(new AdapterCheck.Refusal("unsigned", id
                    + " is not signed (unsigned versions are accepted only while the migration setting allows them)"));
        }
        if (keyId == null || signature == null) {
            return Optional.of(new AdapterCheck.Refusal("signature", id + " has "
                    + (keyId == null ? "a signature but no key id" : "key id '" + keyId + "' but no signature")));
        }
        PublicKey key = trustedKeys.get(keyId);
        if (key == null) {
            return Optional.of(new AdapterCheck.Refusal("unknown_key", id + " is signed with key '" + keyId
                    + "', which is not trusted (trusted: " + new java.util.TreeSet<>(trustedKeys.keySet()) + ")"));
        }
        byte[] signatureBytes = new byte[signature.remaining()];
        signature.duplicate().get(signatureBytes);
        if (!verifies(key, AdapterCanonicalBytes.of(adapter, keyId), signatureBytes)) {
            return Optional.of(new AdapterCheck.Refusal("signature", id + ": the signature of key '" + keyId
                    + "' does not match its content (task, version, model, template, style, table)"));
        }
        return Optional.empty();
    }

    private static boolean verifies(PublicKey key, byte[] canonical, byte[] signatureBytes) {
        try {
            Signature verifier = Signature.getInstance(AdapterKeys.ALGORITHM);
            verifier.initVerify(key);
            verifier.update(canonical);
            return verifier.verify(signatureBytes);
        } catch (SignatureException e) {
            return false; // malformed signature bytes: as bad as a wrong one
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot verify with " + AdapterKeys.ALGORITHM + ": " + e.getMessage(), e);
        }
    }
}
