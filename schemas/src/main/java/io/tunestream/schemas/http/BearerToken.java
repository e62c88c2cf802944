package io.tunestream.schemas.http;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The secret a client must send as {@code Authorization: Bearer <token>}. Compared in constant
 * time ({@link MessageDigest#isEqual} of SHA-256 digests, so neither the content nor the length of
 * the secret shows in the time taken); never printed ({@link #toString()} hides it).
 */
public final class BearerToken {

    private static final String PREFIX = "Bearer ";
    private final byte[] digest;

    private BearerToken(String secret) {
        if (secret.isBlank()) {
            throw new IllegalArgumentException("the bearer token is empty");
        }
        this.digest = sha256(secret);
    }

    /** A token given as text (e.g. from an environment variable); surrounding whitespace is dropped. */
    public static BearerToken of(String secret) {
        return new BearerToken(secret.strip());
    }

    /** The token held by {@code file} (its whole content, surrounding whitespace and line ends dropped). */
    public static BearerToken fromFile(Path file) {
        try {
            return of(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("bearer token file " + file + " cannot be read: " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bearer token file " + file + " is empty", e);
        }
    }

    /** Whether an {@code Authorization} header value (may be null) carries this token. */
    public boolean admits(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return false;
        }
        return MessageDigest.isEqual(digest, sha256(authorization.substring(PREFIX.length()).strip()));
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    @Override
    public String toString() {
        return "BearerToken[hidden]";
    }
}
