package io.tunestream.trainer.api;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.jackson.ObjectMapperCustomizer;
import jakarta.inject.Singleton;

/**
 * Limits on the JSON bodies the API parses, enforced while parsing (a body beyond them is a 400 before it is held
 * whole): 16 levels deep, numbers of 64 digits, strings up to a base64 table of a 16 MiB adapter record. The body
 * itself is capped by {@code quarkus.http.limits.max-body-size} (413).
 */
@Singleton
public class ApiJson implements ObjectMapperCustomizer {

    /** Deepest JSON the API takes: an import body is three levels deep. */
    static final int MAX_DEPTH = 16;
    /** Longest JSON string: the base64 of a 16 MiB table. */
    static final int MAX_STRING_CHARS = (16 * 1024 * 1024 + 2) / 3 * 4;
    static final int MAX_NUMBER_CHARS = 64;

    @Override
    public void customize(ObjectMapper mapper) {
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH)
                .maxStringLength(MAX_STRING_CHARS).maxNumberLength(MAX_NUMBER_CHARS).build());
    }
}
