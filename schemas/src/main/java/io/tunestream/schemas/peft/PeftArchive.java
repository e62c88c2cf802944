package io.tunestream.schemas.peft;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * A PEFT adapter directory as one zip file, the body the trainer's API takes and gives
 * ({@code POST /api/tasks/{task}/versions/peft}, {@code GET …/versions/{version}/peft}): {@code adapter_config.json}
 * and {@code adapter_model.safetensors}, at the top or in one folder ({@code zip -r squad-peft.zip squad-peft} and
 * {@code zip -j} both do). Other entries (PEFT's {@code README.md}) are skipped unread.
 *
 * <p>Reading is bounded: each of the two files is inflated to at most its own limit ({@link PeftConfig#MAX_BYTES},
 * {@link PeftAdapter#MAX_WEIGHTS_BYTES}), so a small archive that inflates to gigabytes is refused when the limit is
 * passed, not after; at most {@link #MAX_ENTRIES} entries are looked at.
 */
public final class PeftArchive {

    /** The media type of the archive. */
    public static final String MEDIA_TYPE = "application/zip";
    /** Most entries read before the archive is refused (a PEFT directory holds two or three files). */
    public static final int MAX_ENTRIES = 16;

    private PeftArchive() {
    }

    /**
     * The adapter in {@code zip}.
     *
     * @throws PeftFormatException reason {@code archive} when it is not a zip, holds a file twice, nests it deeper
     *                             than one folder or has too many entries; {@code config} or {@code safetensors}
     *                             when that file is missing; {@code size} when one is too big; else
     *                             {@link PeftAdapter#read(byte[], byte[])}'s reasons
     */
    public static PeftAdapter read(byte[] zip) {
        byte[] config = null;
        byte[] weights = null;
        int entries = 0;
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry entry = in.getNextEntry(); entry != null; entry = in.getNextEntry()) {
                if (++entries > MAX_ENTRIES) {
                    throw new PeftFormatException("archive", "the zip has more than " + MAX_ENTRIES
                            + " entries; a PEFT adapter is " + PeftConfig.FILE_NAME + " and " + PeftAdapter.WEIGHTS_FILE);
                }
                if (entry.isDirectory()) {
                    continue;
                }
                String path = entry.getName().replace('\\', '/');
                String name = path.substring(path.lastIndexOf('/') + 1);
                boolean isConfig = name.equals(PeftConfig.FILE_NAME);
                boolean isWeights = name.equals(PeftAdapter.WEIGHTS_FILE);
                if (!isConfig && !isWeights) {
                    continue;
                }
                if (path.chars().filter(c -> c == '/').count() > 1) {
                    throw new PeftFormatException("archive", "the zip holds " + path + ": put " + name
                            + " at the top or in one folder");
                }
                if ((isConfig && config != null) || (isWeights && weights != null)) {
                    throw new PeftFormatException("archive", "the zip holds " + name + " twice (" + path + ")");
                }
                if (isConfig) {
                    config = readBounded(in, PeftConfig.MAX_BYTES, name);
                } else {
                    weights = readBounded(in, PeftAdapter.MAX_WEIGHTS_BYTES, name);
                }
            }
        } catch (ZipException e) {
            throw new PeftFormatException("archive", "the body is not a readable zip: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("reading a zip in memory", e);
        }
        if (entries == 0) {
            throw new PeftFormatException("archive", "the body is not a zip, or an empty one (" + zip.length
                    + " bytes); send " + PeftConfig.FILE_NAME + " and " + PeftAdapter.WEIGHTS_FILE + " zipped");
        }
        if (config == null) {
            throw new PeftFormatException("config", "the zip has no " + PeftConfig.FILE_NAME);
        }
        if (weights == null) {
            throw new PeftFormatException("safetensors", "the zip has no " + PeftAdapter.WEIGHTS_FILE
                    + " (adapter_model.bin, a pickle, is never read: save with safe_serialization=True)");
        }
        return PeftAdapter.read(config, weights);
    }

    /** {@code adapter} as a zip of its two files, at the top. */
    public static byte[] write(PeftAdapter adapter) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(bytes)) {
            out.putNextEntry(new ZipEntry(PeftConfig.FILE_NAME));
            out.write(adapter.configJson());
            out.closeEntry();
            out.putNextEntry(new ZipEntry(PeftAdapter.WEIGHTS_FILE));
            out.write(adapter.safetensors());
            out.closeEntry();
        } catch (IOException e) {
            throw new UncheckedIOException("writing a zip in memory", e);
        }
        return bytes.toByteArray();
    }

    private static byte[] readBounded(ZipInputStream in, int maxBytes, String name) throws IOException {
        byte[] bytes = in.readNBytes(maxBytes + 1);
        if (bytes.length > maxBytes) {
            throw new PeftFormatException("size", name + " inflates to more than " + maxBytes + " bytes");
        }
        return bytes;
    }
}
