package io.tunestream.devkit;

/** Starts a registry, prints its pid and waits to be killed: the parent JVM of {@code EmbeddedRegistryIT}'s orphan test. */
public final class RegistryHolderMain {
    static final String PID_PREFIX = "registry-pid=";

    private RegistryHolderMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        EmbeddedRegistry registry = EmbeddedRegistry.start();
        System.out.println(PID_PREFIX + registry.pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
