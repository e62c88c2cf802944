package io.tunestream.model.onnx;

import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;

import static org.assertj.core.api.Assertions.assertThat;

class DirectBufferPoolTest {

    @Test
    void shouldHandOutEachBufferOnceEvenWhenReturnedBuffersHaveEqualContents() {
        DirectBufferPool pool = new DirectBufferPool(8);
        FloatBuffer small = pool.take(4);
        FloatBuffer large = pool.take(16);
        // drained, as a step leaves its logits: nothing remaining, so the two compare equal
        small.position(small.limit());
        large.position(large.limit());
        pool.give(small);
        pool.give(large);

        FloatBuffer first = pool.take(8);
        FloatBuffer second = pool.take(2);

        assertThat(first).isSameAs(large);
        assertThat(second).isSameAs(small);
        assertThat(pool.take(2)).isNotSameAs(small).isNotSameAs(large);
    }

    @Test
    void shouldReuseTheSmallestBufferThatFitsAndDropTheSmallestBeyondTheLimit() {
        DirectBufferPool pool = new DirectBufferPool(1);
        FloatBuffer a = pool.take(10);
        FloatBuffer b = pool.take(20);
        pool.give(a);
        pool.give(b);

        FloatBuffer again = pool.take(5);

        assertThat(again).isSameAs(b);
        assertThat(again.position()).isZero();
        assertThat(again.limit()).isEqualTo(5);
    }
}
