package io.tunestream.schemas.adapters;

import io.tunestream.schemas.AdapterVersion;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.util.Objects;

/**
 * Signs adapter versions with the trainer's Ed25519 key over {@link AdapterCanonicalBytes}. Sign
 * the version exactly as it is published: any covered field changed afterwards breaks the signature.
 *
 * @param keyId the id serving knows the matching public key by (put in the version and signed)
 * @param key   the private key
 */
public record AdapterSigner(String keyId, PrivateKey key) {

    public AdapterSigner {
        Objects.requireNonNull(keyId, "keyId");
        Objects.requireNonNull(key, "key");
        if (keyId.isBlank()) {
            throw new IllegalArgumentException("signing key id must not be blank");
        }
        if (!AdapterKeys.ALGORITHM.equalsIgnoreCase(key.getAlgorithm()) && !"EdDSA".equalsIgnoreCase(key.getAlgorithm())) {
            throw new IllegalArgumentException("signing key '" + keyId + "' is " + key.getAlgorithm() + ", not "
                    + AdapterKeys.ALGORITHM);
        }
    }

    /** The signer of the private key in {@code keyFile} (see {@link AdapterKeys}). */
    public static AdapterSigner fromFile(String keyId, Path keyFile) {
        return new AdapterSigner(keyId, AdapterKeys.readPrivateKey(keyFile));
    }

    /** A copy of {@code adapter} carrying this key's id and its signature. */
    public AdapterVersion sign(AdapterVersion adapter) {
        byte[] canonical = AdapterCanonicalBytes.of(adapter, keyId);
        try {
            Signature signature = Signature.getInstance(AdapterKeys.ALGORITHM);
            signature.initSign(key);
            signature.update(canonical);
            return AdapterVersion.newBuilder(adapter)
                    .setSignatureKeyId(keyId)
                    .setSignature(ByteBuffer.wrap(signature.sign()))
                    .build();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("adapter " + adapter.getTask() + " v" + adapter.getVersion()
                    + ": signing with key '" + keyId + "' failed: " + e.getMessage(), e);
        }
    }
}
