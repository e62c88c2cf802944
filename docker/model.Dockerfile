# A model for the shared model volume (k8s/components/model-volume): the Job `model-loader` copies /model
# of this image into the volume. One image per model and version:
#   docker build -f docker/model.Dockerfile --build-arg MODEL_DIR=models/demo-gpt2 -t tunestream/model-demo-gpt2:0.1.0 .
# MODEL_DIR is an Optimum export (model.onnx, tokenizer.json, config.json) inside the build context.
FROM busybox:1.37
ARG MODEL_DIR=models/demo-gpt2
COPY ${MODEL_DIR} /model
# the loader and the pods' wait-for-model init containers run as 10001 on a read-only root filesystem
USER 10001:10001
