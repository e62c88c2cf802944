package io.tunestream.schemas.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tunestream.devkit.PlatformEndpoints;
import io.tunestream.devkit.junit.LocalPlatformExtension;
import io.tunestream.schemas.Topics;
import java.util.List;
import java.util.UUID;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Registration and BACKWARD compatibility on the real Apicurio Registry. */
@ExtendWith(LocalPlatformExtension.class)
class SchemaRegistrationIT {

    private static Schema person(String extraField) {
        return new Schema.Parser().parse("""
                {"type": "record", "name": "Person", "namespace": "io.tunestream.test", "fields": [
                  {"name": "name", "type": "string"}%s
                ]}""".formatted(extraField));
    }

    @Test
    void shouldRegisterEveryTopicsValueSchemaOnceWithABackwardRule(PlatformEndpoints platform) {
        SchemaRegistration registration = new SchemaRegistration(RegistryConfig.forRegistry(platform.registryUrl()));

        List<RegisteredSchema> first = registration.registerAll(Topics.ALL);
        List<RegisteredSchema> again = registration.registerAll(Topics.ALL);

        assertThat(first).extracting(RegisteredSchema::artifactId).containsExactly("requests-value", "answers-value",
                "task-templates-value", "adapters-value", "adapter-checkpoints-value", "examples-value",
                "feedback-value", "training-runs-value", "adapter-history-value", "task-controls-value");
        assertThat(again).isEqualTo(first);
        assertThat(registration.compatibilityOf("adapters-value")).isEqualTo(Compatibility.BACKWARD);
    }

    @Test
    void shouldAcceptTheSignatureFieldsOfAdapterVersionOverThePreviousSchemaUnderTheBackwardRule(
            PlatformEndpoints platform) throws java.io.IOException {
        SchemaRegistration registration = new SchemaRegistration(RegistryConfig.forRegistry(platform.registryUrl()));
        String artifact = "adapters-compat-" + UUID.randomUUID() + "-value";
        Schema previous;
        try (var in = getClass().getResourceAsStream("/previous-schemas/AdapterVersion-before-signatures.avsc")) {
            var parser = new Schema.Parser();
            parser.addTypes(java.util.Map.of(io.tunestream.schemas.Tensor.getClassSchema().getFullName(),
                    io.tunestream.schemas.Tensor.getClassSchema()));
            previous = parser.parse(in);
        }
        RegisteredSchema before = registration.register(artifact, previous);

        RegisteredSchema signed = registration.register(artifact, io.tunestream.schemas.AdapterVersion.getClassSchema());

        assertThat(before.version()).isEqualTo("1");
        assertThat(signed.version()).isEqualTo("2");
    }

    @Test
    void shouldAcceptTheRollbackStatusesOfTrainingRunOverThePreviousSchemaUnderTheBackwardRule(
            PlatformEndpoints platform) throws java.io.IOException {
        SchemaRegistration registration = new SchemaRegistration(RegistryConfig.forRegistry(platform.registryUrl()));
        String artifact = "runs-rollback-" + UUID.randomUUID() + "-value";
        Schema previous;
        try (var in = getClass().getResourceAsStream("/previous-schemas/TrainingRun-before-rollback.avsc")) {
            previous = new Schema.Parser().parse(in);
        }
        RegisteredSchema before = registration.register(artifact, previous);

        RegisteredSchema rollback = registration.register(artifact, io.tunestream.schemas.TrainingRun.getClassSchema());

        assertThat(before.version()).isEqualTo("1");
        assertThat(rollback.version()).isEqualTo("2");
    }

    @Test
    void shouldAcceptTheDeepPromptFieldsOfAdapterVersionOverThePreviousSchemaUnderTheBackwardRule(
            PlatformEndpoints platform) throws java.io.IOException {
        SchemaRegistration registration = new SchemaRegistration(RegistryConfig.forRegistry(platform.registryUrl()));
        String artifact = "adapters-deep-" + UUID.randomUUID() + "-value";
        RegisteredSchema before = registration.register(artifact,
                io.tunestream.schemas.adapters.DeepPromptAdapterCompatibilityTest.previous());

        RegisteredSchema deep = registration.register(artifact, io.tunestream.schemas.AdapterVersion.getClassSchema());

        assertThat(before.version()).isEqualTo("1");
        assertThat(deep.version()).isEqualTo("2");
    }

    @Test
    void shouldRefuseANewRequiredFieldAndAcceptANewFieldWithADefault(PlatformEndpoints platform) {
        SchemaRegistration registration = new SchemaRegistration(RegistryConfig.forRegistry(platform.registryUrl()));
        String artifact = "compat-" + UUID.randomUUID() + "-value";
        RegisteredSchema v1 = registration.register(artifact, person(""));

        SchemaRegistrationException refused = catchThrowableOfType(SchemaRegistrationException.class,
                () -> registration.register(artifact, person(", {\"name\": \"age\", \"type\": \"int\"}")));
        RegisteredSchema v2 = registration.register(artifact,
                person(", {\"name\": \"age\", \"type\": \"int\", \"default\": 0}"));

        assertThat(v1.version()).isEqualTo("1");
        assertThat(refused.isRuleViolation()).isTrue();
        assertThat(refused.artifactId()).isEqualTo(artifact);
        assertThat(refused.getMessage()).startsWith("artifact " + artifact + ": registry refused POST ")
                .contains("(HTTP 409)").containsIgnoringCase("incompatible");
        assertThat(v2.version()).isEqualTo("2");
        assertThat(v2.contentId()).isNotEqualTo(v1.contentId());
    }
}
