package io.tunestream.schemas.adapters;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Ed25519 key files for adapter signing (JDK only). A file holds either PEM ({@code -----BEGIN
 * PUBLIC KEY-----}: X.509 SubjectPublicKeyInfo; {@code -----BEGIN PRIVATE KEY-----}: PKCS#8, what
 * {@code openssl genpkey -algorithm ed25519} writes) or the raw 32 key bytes (public key, or
 * private seed). Errors name the file; key bytes are never put in a message.
 */
public final class AdapterKeys {

    public static final String ALGORITHM = "Ed25519";

    // DER prefixes of an Ed25519 key (OID 1.3.101.112) around the raw 32 bytes (RFC 8410)
    private static final byte[] X509_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");
    private static final byte[] PKCS8_PREFIX = HexFormat.of().parseHex("302e020100300506032b657004220420");
    private static final int RAW_LENGTH = 32;

    private AdapterKeys() {
    }

    /** A new Ed25519 key pair. */
    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JDK has no " + ALGORITHM, e);
        }
    }

    /** The public key in {@code file} (PEM X.509 or raw 32 bytes). */
    public static PublicKey readPublicKey(Path file) {
        byte[] der = der(file, "PUBLIC KEY", X509_PREFIX);
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("key file " + file + " is not an " + ALGORITHM + " public key: "
                    + e.getMessage(), e);
        }
    }

    /** The private key in {@code file} (PEM PKCS#8 or raw 32-byte seed). */
    public static PrivateKey readPrivateKey(Path file) {
        byte[] der = der(file, "PRIVATE KEY", PKCS8_PREFIX);
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("key file " + file + " is not an " + ALGORITHM + " private key: "
                    + e.getMessage(), e);
        }
    }

    /** Writes {@code key} as PEM X.509 ({@code PUBLIC KEY}). */
    public static void writePem(PublicKey key, Path file) {
        write(file, "PUBLIC KEY", key.getEncoded());
    }

    /** Writes {@code key} as PEM PKCS#8; the caller restricts the file's permissions. */
    public static void writePem(PrivateKey key, Path file) {
        write(file, "PRIVATE KEY", key.getEncoded());
    }

    private static void write(Path file, String label, byte[] der) {
        String pem = "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + label + "-----\n";
        try {
            Files.writeString(file, pem, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write key file " + file + ": " + e.getMessage(), e);
        }
    }

    private static byte[] der(Path file, String label, byte[] rawPrefix) {
        byte[] content;
        try {
            content = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("key file " + file + " cannot be read: " + e, e);
        }
        String text = new String(content, StandardCharsets.US_ASCII);
        if (text.stripLeading().startsWith("-----BEGIN ")) {
            String begin = "-----BEGIN " + label + "-----";
            String end = "-----END " + label + "-----";
            int from = text.indexOf(begin);
            int to = text.indexOf(end);
            if (from < 0 || to < from) {
                throw new IllegalArgumentException("key file " + file + " is PEM but holds no '" + begin + "' block");
            }
            try {
                return Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("key file " + file + ": the PEM block is not base64", e);
            }
        }
        if (content.length == RAW_LENGTH) {
            byte[] der = new byte[rawPrefix.length + RAW_LENGTH];
            System.arraycopy(rawPrefix, 0, der, 0, rawPrefix.length);
            System.arraycopy(content, 0, der, rawPrefix.length, RAW_LENGTH);
            return der;
        }
        throw new IllegalArgumentException("key file " + file + " is neither PEM ('-----BEGIN " + label
                + "-----') nor a raw " + RAW_LENGTH + "-byte " + ALGORITHM + " key (it holds " + content.length
                + " bytes)");
    }
}
