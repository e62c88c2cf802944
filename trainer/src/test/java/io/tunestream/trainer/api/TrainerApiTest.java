package io.tunestream.trainer.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.trainer.control.CommandRefused;
import io.tunestream.trainer.control.ControlResult;
import io.tunestream.trainer.control.NextRun;
import io.tunestream.trainer.control.TaskCommands;
import io.tunestream.trainer.control.TaskDetail;
import io.tunestream.trainer.control.TaskView;
import io.tunestream.trainer.control.TriggerResult;
import io.tunestream.trainer.control.VersionView;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.assertj.core.groups.Tuple;
import org.junit.jupiter.api.Test;

/** The API's answers to the loop's refusals, without HTTP or Kafka. */
class TrainerApiTest {

    /** A replica that refuses every command with {@code refusal}, or never answers when it is null. */
    private static final class Refusing implements TaskCommands {
        private final RuntimeException refusal;

        Refusing(RuntimeException refusal) {
            this.refusal = refusal;
        }

        private <T> CompletableFuture<T> answer() {
            return refusal == null ? new CompletableFuture<>() : CompletableFuture.failedFuture(refusal);
        }

        @Override
        public CompletableFuture<List<TaskView>> tasks() {
            return CompletableFuture.completedFuture(List.of(
                    new TaskView("mine", 0, true, "trainer-0", 2, 10, 0, 0, false, null, null, NextRun.of("IDLE")),
                    new TaskView("theirs", 1, false, null, 1, null, null, null, false, null, null,
                            NextRun.of("NOT_OWNED"))));
        }

        @Override
        public CompletableFuture<TaskDetail> task(String task) {
            return answer();
        }

        @Override
        public CompletableFuture<TriggerResult> trigger(String task) {
            return answer();
        }

        @Override
        public CompletableFuture<ControlResult> control(String task, boolean paused, String reason) {
            return answer();
        }

        @Override
        public CompletableFuture<VersionView> rollback(String task, int version, String reason) {
            return answer();
        }

        @Override
        public CompletableFuture<VersionView> importTables(String task, AdapterVersion tables, String reason) {
            return answer();
        }

        @Override
        public CompletableFuture<VersionView> importPeft(String task, io.tunestream.schemas.peft.PeftAdapter peft,
                                                         String source, String reason) {
            return answer();
        }

        @Override
        public CompletableFuture<AdapterVersion> tables(String task, int version) {
            return answer();
        }

        @Override
        public String examplesTopic() {
            return "examples";
        }

        @Override
        public String groupId() {
            return "tunestream-trainer";
        }

        @Override
        public String replicaId() {
            return "trainer-0";
        }
    }

    private static final TaskOwners OWNERS = (group, topic) -> Map.of(0, "trainer-0", 1, "trainer-1");

    private static ApiError refusedWith(CommandRefused refusal) {
        TrainerApi api = new TrainerApi(() -> new Refusing(refusal), OWNERS, Duration.ofSeconds(1));
        return catchThrowableOfType(() -> api.trigger("qa"), ApiError.class);
    }

    @Test
    void shouldAnswer404ForAnUnknownTaskWithTheLoopsReason() {
        ApiError error = refusedWith(new CommandRefused(CommandRefused.Kind.UNKNOWN_TASK, "qa",
                "unknown task 'qa': no template for it on task-templates"));

        assertThat(error.status()).isEqualTo(404);
        assertThat(error.body()).isEqualTo(new ApiError.Body("unknown task 'qa': no template for it on task-templates",
                "UNKNOWN_TASK", "qa", null));
    }

    @Test
    void shouldAnswer400And404And409And503ByKind() {
        assertThat(refusedWith(new CommandRefused(CommandRefused.Kind.INVALID, "qa", "fingerprint")).status())
                .isEqualTo(400);
        assertThat(refusedWith(new CommandRefused(CommandRefused.Kind.NOT_FOUND, "qa", "no version 9")).status())
                .isEqualTo(404);
        assertThat(refusedWith(new CommandRefused(CommandRefused.Kind.CONFLICT, "qa", "paused")).status())
                .isEqualTo(409);
        assertThat(refusedWith(new CommandRefused(CommandRefused.Kind.UNAVAILABLE, "qa", "catching up")).status())
                .isEqualTo(503);
    }

    @Test
    void shouldAnswer400WithThePeftReasonForARefusedPeftImport() {
        ApiError error = refusedWith(CommandRefused.invalidPeft("qa", "model", "another base model", null));

        assertThat(error.status()).isEqualTo(400);
        assertThat(error.body()).isEqualTo(new ApiError.Body("another base model", "INVALID", "qa", null, "model"));
    }

    @Test
    void shouldRefuseABodyThatIsNotAPeftZipBeforeAskingTheLoop() {
        TrainerApi api = new TrainerApi(() -> new Refusing(null), OWNERS, Duration.ofSeconds(1));

        ApiError empty = catchThrowableOfType(() -> api.importPeft("qa", new byte[0], null, null), ApiError.class);
        ApiError json = catchThrowableOfType(() -> api.importPeft("qa", "{}".getBytes(), null, null), ApiError.class);

        assertThat(empty.status()).isEqualTo(400);
        assertThat(empty.body().peftReason()).isEqualTo("archive");
        assertThat(json.body().peftReason()).isEqualTo("archive");
        assertThat(json.body().reason()).startsWith("the PEFT adapter cannot be read (archive): the body is not a zip");
    }

    @Test
    void shouldAnswer409NamingTheOwnerOfTheTasksPartition() {
        ApiError error = refusedWith(CommandRefused.notOwner("qa", 1, "trainer-0"));

        assertThat(error.status()).isEqualTo(409);
        assertThat(error.body().owner()).isEqualTo("trainer-1");
        assertThat(error.body().reason()).isEqualTo("task 'qa' is owned by replica 'trainer-1' (examples partition 1), "
                + "not by 'trainer-0': send the request there");
    }

    @Test
    void shouldAnswer503WhenNoReplicaOwnsThePartitionNow() {
        ApiError error = refusedWith(CommandRefused.notOwner("qa", 2, "trainer-0"));

        assertThat(error.status()).isEqualTo(503);
        assertThat(error.body().reason()).contains("has no owner");
    }

    @Test
    void shouldAnswer503WhenTheLoopDoesNotAnswerInTime() {
        TrainerApi api = new TrainerApi(() -> new Refusing(null), OWNERS, Duration.ofMillis(50));

        ApiError error = catchThrowableOfType(() -> api.pause("qa", "x"), ApiError.class);

        assertThat(error.status()).isEqualTo(503);
        assertThat(error.body().reason()).contains("did not answer within PT0.05S");
    }

    @Test
    void shouldAnswer503BeforeTheLoopHasStarted() {
        TrainerApi api = new TrainerApi(() -> null, OWNERS, Duration.ofSeconds(1));

        assertThat(catchThrowableOfType(api::tasks, ApiError.class).status()).isEqualTo(503);
    }

    @Test
    void shouldRefuseARollbackWithoutAVersionAsBadInput() {
        TrainerApi api = new TrainerApi(() -> new Refusing(null), OWNERS, Duration.ofSeconds(1));

        ApiError error = catchThrowableOfType(() -> api.rollback("qa", null, null), ApiError.class);

        assertThat(error.status()).isEqualTo(400);
        assertThat(error.body().reason()).contains("{\"version\": N}");
    }

    @Test
    void shouldNameTheOwnersOfTasksOtherReplicasOwnInTheList() {
        TrainerApi api = new TrainerApi(() -> new Refusing(null), OWNERS, Duration.ofSeconds(1));

        assertThat(api.tasks()).extracting(TaskView::task, TaskView::owner)
                .containsExactly(Tuple.tuple("mine", "trainer-0"), Tuple.tuple("theirs", "trainer-1"));
    }
}
