# The serving app on NVIDIA GPUs (the image of the gpu overlay, k8s/overlays/gpu).
#   docker build -f docker/inference-stream-gpu.Dockerfile -t tunestream/inference-stream-gpu:0.1.0 .
# No model inside: the gpu overlay mounts the shared model volume (k8s/components/model-volume).
# Needs the NVIDIA container runtime at run time; without a GPU the app falls back to CPU (one log line).
# Runs as the non-root user 10001 (the pods' runAsUser) on a read-only root filesystem.
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -Pgpu -pl inference-stream -am package -DskipTests \
 && mkdir -p /opt/tunestream && cp -r inference-stream/target/lib /opt/tunestream/lib \
 && cp inference-stream/target/tunestream-inference-stream-*.jar /opt/tunestream/lib/ \
 # ONNX Runtime's native libraries (CUDA provider included, hundreds of MB) unpacked once here, not at every start
 && mkdir -p /tmp/ort && cd /tmp/ort && jar xf /opt/tunestream/lib/onnxruntime_gpu-*.jar ai/onnxruntime/native/linux-x64 \
 && mv /tmp/ort/ai/onnxruntime/native/linux-x64 /opt/tunestream/ort-native

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tunestream \
 && useradd --uid 10001 --gid 10001 --home-dir /home/tunestream --create-home --shell /usr/sbin/nologin tunestream
COPY --from=build /opt/tunestream /opt/tunestream
COPY inference-stream/src/main/resources/logback.xml /opt/tunestream/logback.xml
ENV TUNESTREAM_EXECUTION_PROVIDER=CUDA \
    TUNESTREAM_STATE_DIR=/var/lib/tunestream/state \
    DJL_CACHE_DIR=/home/tunestream/.djl.ai \
    JAVA_TOOL_OPTIONS="-Donnxruntime.native.path=/opt/tunestream/ort-native -Dai.djl.offline=true -Dlogback.configurationFile=/opt/tunestream/logback.xml"
USER 10001:10001
EXPOSE 8081
ENTRYPOINT ["java", "-XX:+UseG1GC", "-cp", "/opt/tunestream/lib/*", "io.tunestream.serving.ServingApp"]
