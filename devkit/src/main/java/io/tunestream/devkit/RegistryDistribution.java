package io.tunestream.devkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * An unpacked Apicurio Registry server distribution: a Quarkus runner jar and its {@code lib/}.
 * devkit's build unpacks {@code io.apicurio:apicurio-registry-app:tar.gz:all} into its
 * {@code target/} and records the absolute location in {@value #PROPERTIES_RESOURCE}, so any
 * module with devkit on its classpath finds it.
 */
record RegistryDistribution(Path home, Path runnerJar) {
    static final String PROPERTIES_RESOURCE = "/tunestream-devkit.properties";
    static final String HOME_PROPERTY = "apicurio.registry.home";

    /** The distribution devkit's build unpacked. */
    static RegistryDistribution fromBuild() {
        Properties properties = new Properties();
        try (InputStream in = RegistryDistribution.class.getResourceAsStream(PROPERTIES_RESOURCE)) {
            if (in == null) {
                throw new PlatformStartException("Apicurio Registry server not found: " + PROPERTIES_RESOURCE
                        + " is missing from the classpath (build devkit: ./mvnw -B -pl devkit package)");
            }
            properties.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + PROPERTIES_RESOURCE, e);
        }
        String home = properties.getProperty(HOME_PROPERTY);
        if (home == null || home.isBlank() || home.contains("${")) {
            throw new PlatformStartException("Apicurio Registry server not found: " + PROPERTIES_RESOURCE
                    + " has no resolved " + HOME_PROPERTY + " (was '" + home + "'; build devkit with Maven)");
        }
        return at(Path.of(home));
    }

    /** The distribution unpacked in {@code home}: exactly one {@code *-runner.jar} and a {@code lib/} directory. */
    static RegistryDistribution at(Path home) {
        Path absoluteHome = home.toAbsolutePath().normalize();
        if (!Files.isDirectory(absoluteHome)) {
            throw new PlatformStartException("Apicurio Registry server not found: " + absoluteHome
                    + " is not a directory (devkit's build unpacks it: ./mvnw -B -pl devkit generate-resources)");
        }
        List<Path> runners = new ArrayList<>();
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(absoluteHome, "*-runner.jar")) {
            jars.forEach(runners::add);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + absoluteHome, e);
        }
        if (runners.size() != 1 || !Files.isDirectory(absoluteHome.resolve("lib"))) {
            throw new PlatformStartException("Apicurio Registry server not found: " + absoluteHome
                    + " should hold one *-runner.jar and a lib/ directory, found runner jars " + runners);
        }
        return new RegistryDistribution(absoluteHome, runners.get(0));
    }
}
