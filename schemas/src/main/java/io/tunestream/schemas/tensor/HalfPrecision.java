package io.tunestream.schemas.tensor;

/**
 * Conversions between {@code float} and the two 16-bit float formats, bit-exact with
 * IEEE 754 binary16 (FLOAT16) and bfloat16 (BFLOAT16), rounding to nearest, ties to even.
 *
 * <p>Java 17 has no {@code Float.floatToFloat16} (it arrived in Java 20), hence this class.
 * Values travel as the raw 16 bits in a {@code short}.
 */
public final class HalfPrecision {

    private HalfPrecision() {
    }

    /**
     * The binary16 nearest to {@code value}: overflow gives infinity, underflow gives (signed)
     * zero or a subnormal, NaN stays NaN (quiet, top payload bits kept).
     */
    public static short floatToFloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xff;
        int mantissa = bits & 0x7f_ffff;
        if (exponent == 0xff) {
            return (short) (mantissa == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13));
        }
        int halfExponent = exponent - 127 + 15;
        if (halfExponent >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (halfExponent <= 0) {
            // Subnormal half: value = m × 2^-24. Below 2^-25 (shift > 24) everything rounds to zero.
            int shift = 14 - halfExponent;
            if (shift > 24) {
                return (short) sign;
            }
            int significand = mantissa | 0x80_0000;
            return (short) (sign | roundShiftRight(significand, shift));
        }
        // A carry out of the mantissa correctly bumps the exponent (and 0x7bff + 1 becomes infinity).
        return (short) (sign | roundShiftRight((halfExponent << 23) | mantissa, 13));
    }

    /** The float equal to the binary16 {@code bits} (every binary16 is exactly representable). */
    public static float float16ToFloat(short bits) {
        int half = bits & 0xffff;
        int sign = (half & 0x8000) << 16;
        int exponent = (half >>> 10) & 0x1f;
        int mantissa = half & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f80_0000 | (mantissa << 13));
        }
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /** The bfloat16 nearest to {@code value} (the top 16 bits of the float, rounded); NaN stays NaN. */
    public static short floatToBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        return (short) (roundShiftRight(bits, 16) & 0xffff);
    }

    /** The float equal to the bfloat16 {@code bits}. */
    public static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** {@code value >>> shift}, rounded to nearest, ties to even. */
    private static int roundShiftRight(int value, int shift) {
        int kept = value >>> shift;
        int remainder = value & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (remainder > halfway || (remainder == halfway && (kept & 1) != 0)) {
            kept++;
        }
        return kept;
    }
}
