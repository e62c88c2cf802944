package io.tunestream.serving.topology;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Objects;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A request record as it arrived, raw, parked until the registry can be reached to decode it; it keeps
 * everything the answer or the dead letter needs (key, value, headers, where it came from).
 */
record PendingRequest(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value,
                      Headers headers) {

    PendingRequest {
        Objects.requireNonNull(topic, "topic");
        Objects.requireNonNull(headers, "headers");
    }

    /** Where the record came from, for logs and errors: {@code topic-partition@offset}. */
    String where() {
        return topic + "-" + partition + "@" + offset;
    }

    /** The pending store's key: the input offset, zero-padded so the store iterates in arrival order. */
    static String storeKey(long offset) {
        return String.format("%019d", offset);
    }

    /** A compact binary form, version byte first; the store never leaves the app. */
    static final class PendingSerde implements Serde<PendingRequest> {

        private static final byte VERSION = 1;

        @Override
        public Serializer<PendingRequest> serializer() {
            return (topic, pending) -> pending == null ? null : write(pending);
        }

        @Override
        public Deserializer<PendingRequest> deserializer() {
            return (topic, bytes) -> bytes == null ? null : read(bytes);
        }

        private static byte[] write(PendingRequest p) {
            var bytes = new ByteArrayOutputStream(64 + (p.value() == null ? 0 : p.value().length));
            try (var out = new DataOutputStream(bytes)) {
                out.writeByte(VERSION);
                out.writeUTF(p.topic());
                out.writeInt(p.partition());
                out.writeLong(p.offset());
                out.writeLong(p.timestamp());
                writeBytes(out, p.key());
                writeBytes(out, p.value());
                Header[] headers = p.headers().toArray();
                out.writeInt(headers.length);
                for (Header h : headers) {
                    out.writeUTF(h.key());
                    writeBytes(out, h.value());
                }
            } catch (IOException e) {
                throw new SerializationException("cannot write pending request " + p.where(), e);
            }
            return bytes.toByteArray();
        }

        private static PendingRequest read(byte[] bytes) {
            try (var in = new DataInputStream(new ByteArrayInputStream(bytes))) {
                byte version = in.readByte();
                if (version != VERSION) {
                    throw new SerializationException("pending request of unknown format version " + version);
                }
                String topic = in.readUTF();
                int partition = in.readInt();
                long offset = in.readLong();
                long timestamp = in.readLong();
                byte[] key = readBytes(in);
                byte[] value = readBytes(in);
                int count = in.readInt();
                var headers = new RecordHeaders();
                for (int i = 0; i < count; i++) {
                    headers.add(in.readUTF(), readBytes(in));
                }
                return new PendingRequest(topic, partition, offset, timestamp, key, value, headers);
            } catch (IOException e) {
                throw new SerializationException("cannot read a pending request of " + bytes.length + " bytes", e);
            }
        }

        private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
            out.writeInt(b == null ? -1 : b.length);
            if (b != null) {
                out.write(b);
            }
        }

        private static byte[] readBytes(DataInputStream in) throws IOException {
            int length = in.readInt();
            return length < 0 ? null : in.readNBytes(length);
        }
    }
}
