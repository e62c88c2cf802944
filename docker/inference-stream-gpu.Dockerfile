# The serving app on NVIDIA GPUs (the image k8s/inference-stream.yaml runs).
#   docker build -f docker/inference-stream-gpu.Dockerfile -t tunestream/inference-stream-gpu:0.1.0 .
# Needs the NVIDIA container runtime at run time; without a GPU the app falls back to CPU (one log line).
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -Pgpu -pl inference-stream -am package -DskipTests \
 && mkdir -p /opt/tunestream && cp -r inference-stream/target/lib /opt/tunestream/lib \
 && cp inference-stream/target/tunestream-inference-stream-*.jar /opt/tunestream/lib/ \
 # ONNX Runtime's native libraries (CUDA provider included) unpacked once here, not at every start
 && mkdir -p /tmp/ort && cd /tmp/ort && jar xf /opt/tunestream/lib/onnxruntime_gpu-*.jar ai/onnxruntime/native/linux-x64 \
 && mv /tmp/ort/ai/onnxruntime/native/linux-x64 /opt/tunestream/ort-native

FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/tunestream /opt/tunestream
COPY models/demo-gpt2 /opt/tunestream/models/demo-gpt2
COPY inference-stream/src/main/resources/logback.xml /opt/tunestream/logback.xml
ENV TUNESTREAM_MODEL_DIR=/opt/tunestream/models/demo-gpt2 \
    TUNESTREAM_EXECUTION_PROVIDER=CUDA \
    TUNESTREAM_STATE_DIR=/var/lib/tunestream/state \
    JAVA_TOOL_OPTIONS="-Donnxruntime.native.path=/opt/tunestream/ort-native -Dai.djl.offline=true -Dlogback.configurationFile=/opt/tunestream/logback.xml"
EXPOSE 8081
ENTRYPOINT ["java", "-XX:+UseG1GC", "-cp", "/opt/tunestream/lib/*", "io.tunestream.serving.ServingApp"]
