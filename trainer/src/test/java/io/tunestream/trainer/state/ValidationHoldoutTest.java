package io.tunestream.trainer.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ValidationHoldoutTest {

    private static final List<String> IDS = IntStream.range(0, 400).mapToObj(i -> "example-" + i).toList();

    @Test
    void shouldHoldOutAboutTheFractionWhenThereAreManyExamples() {
        var split = ValidationHoldout.split(IDS, Function.identity(), 0.25);
        assertThat(split.validation().size()).isBetween(70, 130);
        assertThat(split.train().size() + split.validation().size()).isEqualTo(400);
    }

    @Test
    void shouldKeepAnExampleOnItsSideWhenTheTaskGrows() {
        var small = ValidationHoldout.split(IDS.subList(0, 100), Function.identity(), 0.3);
        var large = ValidationHoldout.split(IDS, Function.identity(), 0.3);
        assertThat(large.validation()).containsAll(small.validation());
        assertThat(large.train()).containsAll(small.train());
    }

    @Test
    void shouldHoldOutTheLowestHashWhenTheFractionSelectsNothing() {
        List<String> two = List.of("a", "b");
        double a = ValidationHoldout.position("a");
        double b = ValidationHoldout.position("b");
        var split = ValidationHoldout.split(two, Function.identity(), Math.min(a, b) / 2);
        assertThat(split.validation()).containsExactly(a < b ? "a" : "b");
        assertThat(split.train()).containsExactly(a < b ? "b" : "a");
    }

    @Test
    void shouldHoldOutNothingWhenTheFractionIsZero() {
        var split = ValidationHoldout.split(IDS, Function.identity(), 0.0);
        assertThat(split.validation()).isEmpty();
        assertThat(split.train()).hasSize(400);
    }

    @Test
    void shouldRefuseAFractionOutsideZeroToOne() {
        assertThatThrownBy(() -> ValidationHoldout.split(IDS, Function.identity(), 1.0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("validationFraction must be in [0, 1), got 1.0");
    }
}
