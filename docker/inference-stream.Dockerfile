# The serving app on CPU, with the demo model (the image of the dev overlay, k8s/overlays/dev).
#   docker build -f docker/inference-stream.Dockerfile -t tunestream/inference-stream:0.1.0 .
# Runs as the non-root user 10001 (the pods' runAsUser) on a read-only root filesystem: ONNX Runtime unpacks
# its native libraries into ~/.cache/tunestream/onnxruntime and DJL into $DJL_CACHE_DIR, both emptyDir
# mounts in k8s.
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -pl inference-stream -am package -DskipTests \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib \
 && mkdir -p /opt/tunestream && cp -r inference-stream/target/lib /opt/tunestream/lib \
 && cp inference-stream/target/tunestream-inference-stream-*.jar /opt/tunestream/lib/

FROM eclipse-temurin:17-jre
RUN groupadd --gid 10001 tunestream \
 && useradd --uid 10001 --gid 10001 --home-dir /home/tunestream --create-home --shell /usr/sbin/nologin tunestream
COPY --from=build /opt/tunestream /opt/tunestream
COPY models/demo-gpt2 /opt/tunestream/models/demo-gpt2
COPY inference-stream/src/main/resources/logback.xml /opt/tunestream/logback.xml
ENV TUNESTREAM_MODEL_DIR=/opt/tunestream/models/demo-gpt2 \
    TUNESTREAM_STATE_DIR=/var/lib/tunestream/state \
    DJL_CACHE_DIR=/home/tunestream/.djl.ai \
    JAVA_TOOL_OPTIONS="-Dai.djl.offline=true -Dlogback.configurationFile=/opt/tunestream/logback.xml"
USER 10001:10001
EXPOSE 8081
ENTRYPOINT ["java", "-XX:+UseG1GC", "-cp", "/opt/tunestream/lib/*", "io.tunestream.serving.ServingApp"]
