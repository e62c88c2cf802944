package io.tunestream.schemas.registry;

/**
 * A schema version as the registry holds it.
 *
 * @param groupId    artifact group ({@code default})
 * @param artifactId artifact, {@code <topic>-value}
 * @param version    version of the artifact holding the schema ("1", "2", …)
 * @param globalId   registry-wide id of that version
 * @param contentId  id of the schema content (what the serdes write in front of each record)
 */
public record RegisteredSchema(String groupId, String artifactId, String version, long globalId, long contentId) {
}
