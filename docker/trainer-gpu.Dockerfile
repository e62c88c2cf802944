# The trainer (Quarkus) on NVIDIA GPUs (the image of the gpu overlay, k8s/overlays/gpu).
#   docker build -f docker/trainer-gpu.Dockerfile -t tunestream/trainer-gpu:0.1.0 .
# No model inside: the gpu overlay mounts the shared model volume (k8s/components/model-volume).
# Runs as the non-root user 10001 (the pods' runAsUser) on a read-only root filesystem.
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -Pgpu -pl trainer -am package -DskipTests \
 && mkdir -p /opt/tunestream && cp -r trainer/target/quarkus-app /opt/tunestream/trainer \
 # ONNX Runtime's native libraries (CUDA provider included) unpacked once here, not at every start
 && mkdir -p /tmp/ort && cd /tmp/ort \
 && jar xf "$(ls /opt/tunestream/trainer/lib/main/com.microsoft.onnxruntime.onnxruntime_gpu-*.jar)" ai/onnxruntime/native/linux-x64 \
 && mv /tmp/ort/ai/onnxruntime/native/linux-x64 /opt/tunestream/ort-native

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tunestream \
 && useradd --uid 10001 --gid 10001 --home-dir /home/tunestream --create-home --shell /usr/sbin/nologin tunestream
COPY --from=build /opt/tunestream /opt/tunestream
ENV TUNESTREAM_EXECUTION_PROVIDER=CUDA \
    DJL_CACHE_DIR=/home/tunestream/.djl.ai \
    JAVA_TOOL_OPTIONS="-Donnxruntime.native.path=/opt/tunestream/ort-native -Dai.djl.offline=true"
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/opt/tunestream/trainer/quarkus-run.jar"]
