package io.tunestream.schemas.adapters;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DeepPromptShape;
import io.tunestream.schemas.Tensor;
import io.tunestream.schemas.VirtualPromptStyle;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;

/**
 * The byte string an adapter signature covers: what the table is and what it may be applied to,
 * independent of the Avro encoding (a writer schema with other field order or defaults signs the
 * same bytes). Task and version are in it, so a signed table cannot be replayed under another task
 * or version; the key id is in it, so a signature cannot be re-attributed to another trusted key.
 *
 * <p>Encoding, version 1. {@code str(s)} is the UTF-8 bytes of {@code s} after their length as a
 * 4-byte big-endian unsigned integer; {@code i32(n)} is {@code n} as 4 bytes big-endian (two's
 * complement); {@code bytes(b)} is {@code b} after its length as 4 bytes big-endian. In order:
 * <ol>
 *   <li>{@code str("tunestream/adapter-signature/v1")} (domain separation)</li>
 *   <li>{@code str(task)}, {@code i32(version)}</li>
 *   <li>{@code str(modelFingerprint)}, {@code str(templateHash)}</li>
 *   <li>{@code str(virtualPromptStyle)}: the enum symbol, or the empty string when absent</li>
 *   <li>{@code str(keyId)}</li>
 *   <li>{@code i32(hiddenSize)}, {@code i32(count of virtualTokenSplits)}, then {@code i32} of each split</li>
 *   <li>{@code str(table dtype symbol)}, {@code i32(rank)}, then {@code i32} of each dimension</li>
 *   <li>{@code bytes(table data)}: the tensor's little-endian element bytes as published</li>
 *   <li>only for a deep prompt ({@code deepPrompt} set): {@code i32(layers)}, {@code i32(kvHeads)},
 *       {@code i32(headDim)}; the bytes of a virtual-token table end with its data, as before deep prompts</li>
 * </ol>
 * The tensor's {@code name} and the run's metadata (loss, run id, examples, time) are not covered:
 * they do not change what the table does to a prompt.
 */
public final class AdapterCanonicalBytes {

    /** The first field: names the encoding, so a signature is never valid for another message type. */
    public static final String DOMAIN = "tunestream/adapter-signature/v1";

    private AdapterCanonicalBytes() {
    }

    /** The canonical bytes of {@code adapter} as signed by key {@code keyId}. */
    public static byte[] of(AdapterVersion adapter, String keyId) {
        Objects.requireNonNull(adapter, "adapter");
        Objects.requireNonNull(keyId, "keyId");
        var out = new ByteArrayOutputStream(adapter.getTable().getData().remaining() + 256);
        string(out, DOMAIN);
        string(out, adapter.getTask());
        int32(out, adapter.getVersion());
        string(out, adapter.getModelFingerprint());
        string(out, adapter.getTemplateHash());
        VirtualPromptStyle style = adapter.getVirtualPromptStyle();
        string(out, style == null ? "" : style.name());
        string(out, keyId);
        int32(out, adapter.getHiddenSize());
        ints(out, adapter.getVirtualTokenSplits());
        Tensor table = adapter.getTable();
        string(out, table.getDtype().name());
        ints(out, table.getShape());
        ByteBuffer data = table.getData().duplicate();
        byte[] raw = new byte[data.remaining()];
        data.get(raw);
        int32(out, raw.length);
        out.writeBytes(raw);
        DeepPromptShape deep = adapter.getDeepPrompt();
        if (deep != null) {
            int32(out, deep.getLayers());
            int32(out, deep.getKvHeads());
            int32(out, deep.getHeadDim());
        }
        return out.toByteArray();
    }

    private static void string(ByteArrayOutputStream out, String value) {
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        int32(out, utf8.length);
        out.writeBytes(utf8);
    }

    private static void ints(ByteArrayOutputStream out, List<Integer> values) {
        int32(out, values.size());
        for (int value : values) {
            int32(out, value);
        }
    }

    private static void int32(ByteArrayOutputStream out, int value) {
        out.write(value >>> 24);
        out.write(value >>> 16);
        out.write(value >>> 8);
        out.write(value);
    }
}
