package io.tunestream.model.graph;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every place a tensor's values can be stored reads back the same values, little-endian whatever the machine. */
class TensorProtoReaderTest {

    private static ByteString littleEndian(int bytes, java.util.function.Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        return ByteString.copyFrom(b.array());
    }

    private static TensorProto.Builder tensor(TensorProto.DataType type, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName("t").setDataType(type.getNumber());
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    @Test
    void shouldReadFloatsFromRawTypedAndExternalData(@TempDir Path dir) throws IOException {
        ByteString raw = littleEndian(12, b -> b.putFloat(1.5f).putFloat(-2f).putFloat(3.25f));
        Files.write(dir.resolve("w.data"), ByteString.copyFrom(new byte[]{9, 9}).concat(raw).toByteArray());

        assertThat(TensorProtoReader.floats(tensor(TensorProto.DataType.FLOAT, 3).setRawData(raw).build(), dir))
                .containsExactly(1.5f, -2f, 3.25f);
        assertThat(TensorProtoReader.floats(tensor(TensorProto.DataType.FLOAT, 1, 3).addFloatData(1.5f).addFloatData(-2f)
                .addFloatData(3.25f).build(), dir)).containsExactly(1.5f, -2f, 3.25f);
        TensorProto external = tensor(TensorProto.DataType.FLOAT, 3).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", "w.data")).addExternalData(entry("offset", "2"))
                .addExternalData(entry("length", "12")).build();
        assertThat(TensorProtoReader.floats(external, dir)).containsExactly(1.5f, -2f, 3.25f);
        assertThat(TensorProtoReader.externalData(external)).isEqualTo(new TensorProtoReader.ExternalData("w.data", 2, 12));
    }

    @Test
    void shouldRefuseFloatsOfTheWrongCountOrType(@TempDir Path dir) {
        assertThatThrownBy(() -> TensorProtoReader.floats(tensor(TensorProto.DataType.FLOAT, 2)
                .setRawData(littleEndian(4, b -> b.putFloat(1f))).build(), dir))
                .hasMessage("initializer t has 4 raw bytes, expected 8 for dims [2]");
        assertThatThrownBy(() -> TensorProtoReader.floats(tensor(TensorProto.DataType.INT64, 1).addInt64Data(1).build(), dir))
                .hasMessage("initializer t has data type 7, expected FLOAT (1)");
    }

    @Test
    void shouldReadOneValueScalarsOfFloatAndDouble() {
        assertThat(TensorProtoReader.scalar(tensor(TensorProto.DataType.FLOAT).setRawData(littleEndian(4, b -> b.putFloat(0.5f)))
                .build())).hasValue(0.5);
        assertThat(TensorProtoReader.scalar(tensor(TensorProto.DataType.FLOAT, 1).addFloatData(3f).build())).hasValue(3.0);
        assertThat(TensorProtoReader.scalar(tensor(TensorProto.DataType.DOUBLE).setRawData(littleEndian(8, b -> b.putDouble(0.044715)))
                .build())).hasValue(0.044715);
        assertThat(TensorProtoReader.scalar(tensor(TensorProto.DataType.FLOAT, 2).addFloatData(1f).addFloatData(2f).build())).isEmpty();
        assertThat(TensorProtoReader.scalar(tensor(TensorProto.DataType.INT64).addInt64Data(1).build())).isEmpty();
    }

    @Test
    void shouldReadInt64AndInt32AsLongs() {
        assertThat(TensorProtoReader.longs(tensor(TensorProto.DataType.INT64, 2)
                .setRawData(littleEndian(16, b -> b.putLong(-1).putLong(1L << 40))).build())).containsExactly(-1, 1L << 40);
        assertThat(TensorProtoReader.longs(tensor(TensorProto.DataType.INT64, 2).addInt64Data(4).addInt64Data(5).build()))
                .containsExactly(4, 5);
        assertThat(TensorProtoReader.longs(tensor(TensorProto.DataType.INT32, 2)
                .setRawData(littleEndian(8, b -> b.putInt(7).putInt(-3))).build())).containsExactly(7, -3);
        assertThat(TensorProtoReader.longs(tensor(TensorProto.DataType.INT32, 1).addInt32Data(2).build())).containsExactly(2);
        assertThatThrownBy(() -> TensorProtoReader.longs(tensor(TensorProto.DataType.FLOAT, 1).addFloatData(1f).build()))
                .hasMessage("tensor t has data type 1, expected INT64 (7) or INT32 (6)");
    }

    private static OnnxMl.StringStringEntryProto entry(String key, String value) {
        return OnnxMl.StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }
}
