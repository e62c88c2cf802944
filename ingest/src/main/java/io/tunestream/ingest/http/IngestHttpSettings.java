package io.tunestream.ingest.http;

import io.tunestream.schemas.http.BearerToken;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How the ingest HTTP server listens and what it accepts, checked at start.
 *
 * @param address            where to listen; port 0 picks a free one
 * @param timeout            how long a call waits for Kafka and the registry, and an ask for its answer
 *                           when the body gives no {@code timeout_seconds}
 * @param maxAskWait         the longest {@code timeout_seconds} an ask may give (at least {@code timeout})
 * @param maxWaitingAsks     asks waiting for their answers at once; one more gets 429
 * @param maxBodyBytes       larger bodies get 413 (read no further)
 * @param requestReadTimeout a request whose body has not fully arrived this long after its headers is
 *                           dropped (its connection closed): a slow client holds no more than a socket
 * @param token              when present, every request must carry it ({@code Authorization: Bearer}), else 401
 */
public record IngestHttpSettings(InetSocketAddress address, Duration timeout, Duration maxAskWait, int maxWaitingAsks,
                                 long maxBodyBytes, Duration requestReadTimeout, Optional<BearerToken> token) {

    public static final Duration DEFAULT_MAX_ASK_WAIT = Duration.ofMinutes(5);
    public static final int DEFAULT_MAX_WAITING_ASKS = 64;
    public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;
    public static final Duration DEFAULT_REQUEST_READ_TIMEOUT = Duration.ofSeconds(30);

    public IngestHttpSettings {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(token, "token");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, was " + timeout);
        }
        if (maxAskWait.compareTo(timeout) < 0) {
            throw new IllegalArgumentException("the longest ask wait (" + maxAskWait + ") is shorter than the timeout ("
                    + timeout + ")");
        }
        if (maxWaitingAsks < 1) {
            throw new IllegalArgumentException("waiting asks must be at least 1, was " + maxWaitingAsks);
        }
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("the body limit must be at least 1 byte, was " + maxBodyBytes);
        }
        if (requestReadTimeout.isNegative() || requestReadTimeout.isZero()) {
            throw new IllegalArgumentException("the request read timeout must be positive, was " + requestReadTimeout);
        }
    }

    /** The defaults on {@code address}, without a token. */
    public static IngestHttpSettings defaults(InetSocketAddress address, Duration timeout) {
        return new IngestHttpSettings(address, timeout, max(DEFAULT_MAX_ASK_WAIT, timeout), DEFAULT_MAX_WAITING_ASKS,
                DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_READ_TIMEOUT, Optional.empty());
    }

    public IngestHttpSettings withToken(BearerToken token) {
        return new IngestHttpSettings(address, timeout, maxAskWait, maxWaitingAsks, maxBodyBytes, requestReadTimeout,
                Optional.of(token));
    }

    public IngestHttpSettings withLimits(long maxBodyBytes, Duration maxAskWait, int maxWaitingAsks) {
        return new IngestHttpSettings(address, timeout, maxAskWait, maxWaitingAsks, maxBodyBytes, requestReadTimeout,
                token);
    }

    public IngestHttpSettings withRequestReadTimeout(Duration requestReadTimeout) {
        return new IngestHttpSettings(address, timeout, maxAskWait, maxWaitingAsks, maxBodyBytes, requestReadTimeout,
                token);
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
