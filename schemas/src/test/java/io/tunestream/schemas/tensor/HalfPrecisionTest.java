package io.tunestream.schemas.tensor;

import static io.tunestream.schemas.tensor.HalfPrecision.bfloat16ToFloat;
import static io.tunestream.schemas.tensor.HalfPrecision.float16ToFloat;
import static io.tunestream.schemas.tensor.HalfPrecision.floatToBfloat16;
import static io.tunestream.schemas.tensor.HalfPrecision.floatToFloat16;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

    @Test
    void shouldRoundTripEveryFloat16BitPatternExceptNaNPayloads() {
        for (int bits = 0; bits <= 0xffff; bits++) {
            short half = (short) bits;
            float value = float16ToFloat(half);
            if (Float.isNaN(value)) {
                assertThat(Float.isNaN(float16ToFloat(floatToFloat16(value)))).as("NaN 0x%04x", bits).isTrue();
            } else {
                assertThat(floatToFloat16(value) & 0xffff).as("0x%04x (%s)", bits, value).isEqualTo(bits);
            }
        }
    }

    @Test
    void shouldDecodeKnownFloat16Values() {
        assertThat(float16ToFloat((short) 0x3c00)).isEqualTo(1.0f);
        assertThat(float16ToFloat((short) 0xc000)).isEqualTo(-2.0f);
        assertThat(float16ToFloat((short) 0x7bff)).isEqualTo(65504.0f);
        assertThat(float16ToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(float16ToFloat((short) 0x0400)).isEqualTo(0x1p-14f);
        assertThat(float16ToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
        assertThat(float16ToFloat((short) 0x7c00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(float16ToFloat((short) 0x8000)).isEqualTo(-0.0f);
    }

    @Test
    void shouldRoundFloatToNearestFloat16TiesToEven() {
        assertThat(floatToFloat16(1f / 3) & 0xffff).isEqualTo(0x3555);
        // 1 + 2^-11 lies halfway between 0x3c00 and 0x3c01: the even one wins
        assertThat(floatToFloat16(1f + 0x1p-11f) & 0xffff).isEqualTo(0x3c00);
        // 1 + 3·2^-11 lies halfway between 0x3c01 and 0x3c02
        assertThat(floatToFloat16(1f + 3 * 0x1p-11f) & 0xffff).isEqualTo(0x3c02);
        assertThat(floatToFloat16(1f + 0x1p-11f + 0x1p-20f) & 0xffff).isEqualTo(0x3c01);
    }

    @Test
    void shouldOverflowToInfinityAndUnderflowThroughSubnormalsToZero() {
        assertThat(floatToFloat16(65519.99f) & 0xffff).isEqualTo(0x7bff);
        assertThat(floatToFloat16(65520f) & 0xffff).isEqualTo(0x7c00);
        assertThat(floatToFloat16(-1e10f) & 0xffff).isEqualTo(0xfc00);
        assertThat(floatToFloat16(0x1p-24f) & 0xffff).isEqualTo(0x0001);
        assertThat(floatToFloat16(0x1p-25f) & 0xffff).isEqualTo(0x0000);
        assertThat(floatToFloat16(0x1.8p-25f) & 0xffff).isEqualTo(0x0001);
        assertThat(floatToFloat16(0x1.8p-24f) & 0xffff).isEqualTo(0x0002);
        assertThat(floatToFloat16(-0x1p-30f) & 0xffff).isEqualTo(0x8000);
        assertThat(floatToFloat16(Float.MIN_VALUE) & 0xffff).isEqualTo(0x0000);
        // largest subnormal rounds up into the smallest normal
        assertThat(floatToFloat16(0x1p-14f - 0x1p-26f) & 0xffff).isEqualTo(0x0400);
    }

    @Test
    void shouldKeepInfinitiesAndNaN() {
        assertThat(floatToFloat16(Float.POSITIVE_INFINITY) & 0xffff).isEqualTo(0x7c00);
        assertThat(floatToFloat16(Float.NEGATIVE_INFINITY) & 0xffff).isEqualTo(0xfc00);
        assertThat(float16ToFloat(floatToFloat16(Float.NaN))).isNaN();
        assertThat(bfloat16ToFloat(floatToBfloat16(Float.NaN))).isNaN();
        assertThat(bfloat16ToFloat(floatToBfloat16(Float.NEGATIVE_INFINITY))).isEqualTo(Float.NEGATIVE_INFINITY);
    }

    @Test
    void shouldRoundFloatToNearestBfloat16TiesToEven() {
        assertThat(floatToBfloat16(1.0f) & 0xffff).isEqualTo(0x3f80);
        assertThat(floatToBfloat16(-2.0f) & 0xffff).isEqualTo(0xc000);
        // 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: even wins; 1 + 3·2^-8 goes up to 0x3f82
        assertThat(floatToBfloat16(1f + 0x1p-8f) & 0xffff).isEqualTo(0x3f80);
        assertThat(floatToBfloat16(1f + 3 * 0x1p-8f) & 0xffff).isEqualTo(0x3f82);
        assertThat(floatToBfloat16(1f + 0x1p-8f + 0x1p-20f) & 0xffff).isEqualTo(0x3f81);
        assertThat(bfloat16ToFloat(floatToBfloat16(Float.MAX_VALUE))).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void shouldRoundTripEveryBfloat16BitPatternExceptNaN() {
        for (int bits = 0; bits <= 0xffff; bits++) {
            float value = bfloat16ToFloat((short) bits);
            if (!Float.isNaN(value)) {
                assertThat(floatToBfloat16(value) & 0xffff).as("0x%04x", bits).isEqualTo(bits);
            }
        }
    }
}
