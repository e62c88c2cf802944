package io.tunestream.schemas.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BearerTokenTest {

    @TempDir
    Path dir;

    @Test
    void shouldAdmitOnlyTheExactTokenAfterTheBearerScheme() {
        BearerToken token = BearerToken.of("abc123");

        assertThat(token.admits("Bearer abc123")).isTrue();
        assertThat(token.admits("bearer abc123")).as("the scheme is case-insensitive").isTrue();
        assertThat(token.admits("Bearer abc1234")).isFalse();
        assertThat(token.admits("Bearer abc12")).isFalse();
        assertThat(token.admits("Basic abc123")).isFalse();
        assertThat(token.admits("abc123")).isFalse();
        assertThat(token.admits("Bearer ")).isFalse();
        assertThat(token.admits(null)).isFalse();
    }

    @Test
    void shouldReadTheTokenFromAFileWithoutItsLineEnd() throws Exception {
        Path file = Files.writeString(dir.resolve("token"), "from-a-file\n");

        BearerToken token = BearerToken.fromFile(file);

        assertThat(token.admits("Bearer from-a-file")).isTrue();
        assertThat(token).hasToString("BearerToken[hidden]");
    }

    @Test
    void shouldRefuseAnEmptyOrMissingTokenFileNamingIt() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty"), " \n");

        assertThatThrownBy(() -> BearerToken.fromFile(empty)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("bearer token file " + empty + " is empty");
        assertThatThrownBy(() -> BearerToken.fromFile(dir.resolve("missing")))
                .hasMessageStartingWith("bearer token file " + dir.resolve("missing") + " cannot be read: ");
    }
}
