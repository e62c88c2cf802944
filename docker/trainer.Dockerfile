# The trainer (Quarkus) on CPU, with the demo model (the image of the dev overlay, k8s/overlays/dev).
#   docker build -f docker/trainer.Dockerfile -t tunestream/trainer:0.1.0 .
# Runs as the non-root user 10001 on a read-only root filesystem (caches on emptyDir mounts in k8s).
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -B -ntp -pl trainer -am package -DskipTests \
 && mkdir -p /opt/tunestream && cp -r trainer/target/quarkus-app /opt/tunestream/trainer

FROM eclipse-temurin:17-jre
RUN groupadd --gid 10001 tunestream \
 && useradd --uid 10001 --gid 10001 --home-dir /home/tunestream --create-home --shell /usr/sbin/nologin tunestream
COPY --from=build /opt/tunestream /opt/tunestream
COPY models/demo-gpt2 /opt/tunestream/models/demo-gpt2
ENV TUNESTREAM_MODEL_DIR=/opt/tunestream/models/demo-gpt2 \
    DJL_CACHE_DIR=/home/tunestream/.djl.ai \
    JAVA_TOOL_OPTIONS="-Dai.djl.offline=true"
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["java", "-jar", "/opt/tunestream/trainer/quarkus-run.jar"]
