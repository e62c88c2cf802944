package io.tunestream.schemas;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ExampleKeyTest {

    @Test
    void shouldJoinTaskAndIdWithASlash() {
        LabelledExample example = LabelledExample.newBuilder().setExampleId("e-1").setTask("squad")
                .setFields(Map.of()).build();
        assertThat(ExampleKey.of(example).toString()).isEqualTo("squad/e-1");
    }

    @Test
    void shouldSplitAtTheFirstSlashSoIdsMayContainSlashes() {
        assertThat(ExampleKey.parse("squad/data/train.jsonl:3")).contains(new ExampleKey("squad", "data/train.jsonl:3"));
    }

    @Test
    void shouldGiveNoExampleKeyForATaskOnlyKeyOrAnEmptyPart() {
        assertThat(ExampleKey.parse("squad")).isEmpty();
        assertThat(ExampleKey.parse("/e1")).isEmpty();
        assertThat(ExampleKey.parse("squad/")).isEmpty();
        assertThat(ExampleKey.parse(" /e1")).isEmpty();
        assertThat(ExampleKey.parse(null)).isEqualTo(Optional.empty());
    }

    @Test
    void shouldRefuseATaskNameWithASlashNamingTheRule() {
        assertThat(TaskNames.problem("a/b")).contains("task name 'a/b' must not contain '/' (it separates the task "
                + "from the example id in the keys of the examples topic)");
        assertThat(TaskNames.problem(" ")).contains("task name must not be empty");
        assertThat(TaskNames.problem("squad")).isEmpty();
        assertThatThrownBy(() -> new ExampleKey("a/b", "e")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("task name 'a/b' must not contain '/'");
    }
}
