package io.tunestream.schemas.adapters;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.io.IOException;
import java.io.InputStream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.junit.jupiter.api.Test;

/** The signature fields are added BACKWARD-compatibly: the new schema reads versions written before them. */
class AdapterVersionCompatibilityTest {

    @Test
    void shouldReadAdapterVersionsWrittenBeforeTheSignatureFields() throws IOException {
        Schema previous;
        try (InputStream in = getClass().getResourceAsStream("/previous-schemas/AdapterVersion-before-signatures.avsc")) {
            var parser = new Schema.Parser();
            parser.addTypes(java.util.Map.of(Tensor.getClassSchema().getFullName(), Tensor.getClassSchema(),
                    VirtualPromptStyle.getClassSchema().getFullName(), VirtualPromptStyle.getClassSchema()));
            previous = parser.parse(in);
        }

        var result = SchemaCompatibility.checkReaderWriterCompatibility(AdapterVersion.getClassSchema(), previous);

        assertThat(result.getType()).as(result.getDescription())
                .isEqualTo(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
        assertThat(previous.getField("signature")).isNull();
    }
}
