package io.tunestream.model.autodiff;

/**
 * The forward graph cannot be differentiated as asked: an op without a gradient rule on the path
 * from a trainable input to the loss, an unsupported attribute, or a request naming a tensor the
 * graph does not have. The message names the node, its op and the tensor concerned.
 */
public class GradientGraphException extends IllegalArgumentException {

    public GradientGraphException(String message) {
        super(message);
    }
}
