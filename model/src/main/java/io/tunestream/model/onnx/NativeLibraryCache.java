package io.tunestream.model.onnx;

import ai.onnxruntime.OrtEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Points ONNX Runtime at a persistent copy of its native libraries.
 *
 * <p>Left alone, ONNX Runtime unpacks its libraries from the jar into a temporary directory on every
 * start (hundreds of MB with the CUDA build). {@link #install(Path)} extracts them once into
 * {@code <cacheRoot>/<version>[-gpu]/<os-arch>/} and sets the system property
 * {@code onnxruntime.native.path}, unless that property is already set. It must run before the first
 * ONNX Runtime class initializes; {@link DecoderModel#load} calls it with {@link #defaultRoot()}.
 * The class literal used to find the jar does not initialize ONNX Runtime.
 */
public final class NativeLibraryCache {

    /** The system property ONNX Runtime reads. */
    public static final String NATIVE_PATH_PROPERTY = "onnxruntime.native.path";

    private static final Logger LOG = LoggerFactory.getLogger(NativeLibraryCache.class);

    private NativeLibraryCache() {
    }

    /** {@code ~/.cache/tunestream/onnxruntime}. */
    public static Path defaultRoot() {
        return Path.of(System.getProperty("user.home"), ".cache", "tunestream", "onnxruntime");
    }

    /**
     * Extracts (if not already there) and selects the cached libraries.
     *
     * @return the directory in use, the pre-set property's value if there was one, or empty
     *         when ONNX Runtime is not packaged as a jar (then it keeps its own loading)
     */
    public static synchronized Optional<Path> install(Path cacheRoot) {
        String preset = System.getProperty(NATIVE_PATH_PROPERTY);
        if (preset != null && !preset.isBlank()) {
            return Optional.of(Path.of(preset));
        }
        Path jar;
        try {
            jar = Path.of(OrtEnvironment.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | NullPointerException | SecurityException e) {
            LOG.warn("cannot locate the ONNX Runtime jar ({}); ONNX Runtime will extract its native libraries itself", e.toString());
            return Optional.empty();
        }
        if (!Files.isRegularFile(jar)) {
            return Optional.empty();
        }
        String platform = platform();
        String prefix = "ai/onnxruntime/native/" + platform + "/";
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            List<ZipEntry> libraries = new ArrayList<>();
            boolean gpu = false;
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                String rest = e.getName().startsWith(prefix) ? e.getName().substring(prefix.length()) : null;
                if (rest != null && !e.isDirectory() && !rest.contains("/")) {
                    libraries.add(e);
                    gpu |= rest.contains("providers_cuda");
                }
            }
            if (libraries.isEmpty()) {
                LOG.warn("the ONNX Runtime jar {} has no native libraries for {}; leaving {} unset", jar, platform,
                        NATIVE_PATH_PROPERTY);
                return Optional.empty();
            }
            String version = OrtEnvironment.class.getPackage().getImplementationVersion();
            Path dir = cacheRoot.resolve((version == null ? "unknown-" + Files.size(jar) : version) + (gpu ? "-gpu" : ""))
                    .resolve(platform);
            Files.createDirectories(dir);
            for (ZipEntry e : libraries) {
                Path target = dir.resolve(e.getName().substring(prefix.length()));
                if (Files.exists(target) && Files.size(target) == e.getSize()) {
                    continue;
                }
                // write then rename, so a concurrent start never loads a half-written library
                Path partial = Files.createTempFile(dir, target.getFileName().toString(), ".partial");
                try (InputStream in = zip.getInputStream(e)) {
                    Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
                }
                Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                LOG.info("extracted ONNX Runtime native library {}", target);
            }
            System.setProperty(NATIVE_PATH_PROPERTY, dir.toString());
            return Optional.of(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot cache ONNX Runtime native libraries from " + jar + " into " + cacheRoot
                    + " (set -D" + NATIVE_PATH_PROPERTY + " to a directory holding them to skip this)", e);
        }
    }

    /** ONNX Runtime's name for this platform, as used in its jar. */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String o = os.contains("win") ? "win" : os.contains("mac") || os.contains("darwin") ? "osx" : "linux";
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x64" : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }
}
