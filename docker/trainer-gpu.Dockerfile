# The trainer (Quarkus) on NVIDIA GPUs (the image k8s/trainer.yaml runs).
#   docker build -f docker/trainer-gpu.Dockerfile -t tunestream/trainer-gpu:0.1.0 .
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
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/tunestream /opt/tunestream
COPY models/demo-gpt2 /opt/tunestream/models/demo-gpt2
ENV TUNESTREAM_MODEL_DIR=/opt/tunestream/models/demo-gpt2 \
    TUNESTREAM_EXECUTION_PROVIDER=CUDA \
    JAVA_TOOL_OPTIONS="-Donnxruntime.native.path=/opt/tunestream/ort-native -Dai.djl.offline=true"
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/opt/tunestream/trainer/quarkus-run.jar"]
