package io.tunestream.local;

import io.tunestream.schemas.adapters.AdapterKeys;
import io.tunestream.schemas.adapters.AdapterSigner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;

/**
 * The local platform's adapter signing key pair, in {@code <data-dir>/keys}: generated (JDK Ed25519)
 * the first time and kept across runs, so adapters published earlier still verify. The trainer signs
 * with the private key, serving trusts the public one under {@link #KEY_ID}.
 *
 * @param privateKey the PKCS#8 PEM file (owner-only permissions where the file system has them)
 * @param publicKey  the X.509 PEM file
 */
public record LocalSigningKey(Path privateKey, Path publicKey) {

    /** The id the local trainer signs under and local serving trusts. */
    public static final String KEY_ID = "local-trainer";

    /** The key pair in {@code directory}, generated there when it is not complete. */
    public static LocalSigningKey in(Path directory) {
        var key = new LocalSigningKey(directory.resolve("adapter-signing.pem"),
                directory.resolve("adapter-signing.pub.pem"));
        if (Files.isRegularFile(key.privateKey) && Files.isRegularFile(key.publicKey)) {
            return key;
        }
        try {
            Files.createDirectories(directory);
            KeyPair pair = AdapterKeys.generate();
            Files.deleteIfExists(key.privateKey);
            if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
                Files.createFile(key.privateKey, PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rw-------")));
            }
            AdapterKeys.writePem(pair.getPrivate(), key.privateKey);
            AdapterKeys.writePem(pair.getPublic(), key.publicKey);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the adapter signing key in " + directory + ": " + e, e);
        }
        return key;
    }

    /** The trainer's signer. */
    public AdapterSigner signer() {
        return AdapterSigner.fromFile(KEY_ID, privateKey);
    }

    /** Serving's {@code adapters.trusted.keys} value. */
    public String trustedKeysSetting() {
        return KEY_ID + "=" + publicKey.toAbsolutePath();
    }
}
