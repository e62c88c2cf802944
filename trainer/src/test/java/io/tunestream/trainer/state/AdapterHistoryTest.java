package io.tunestream.trainer.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.tunestream.schemas.AdapterVersion;
import io.tunestream.schemas.DType;
import io.tunestream.schemas.Tensor;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdapterHistoryTest {

    private static AdapterVersion version(int v) {
        return AdapterVersion.newBuilder().setTask("qa").setVersion(v).setModelFingerprint("m").setHiddenSize(1)
                .setTable(Tensor.newBuilder().setName("t").setDtype(DType.FLOAT32).setShape(List.of(1, 1))
                        .setData(ByteBuffer.allocate(4)).build())
                .setVirtualTokenSplits(List.of(1)).build();
    }

    @Test
    void shouldKeepTheNewestVersionsAndNameTheOnesAPublicationExpires() {
        AdapterHistory history = new AdapterHistory(3);
        history.add(version(1));
        history.add(version(2));

        assertThat(history.expiredBy(3)).isEmpty();
        history.add(version(3));
        assertThat(history.expiredBy(4)).containsExactly(1);
        assertThat(history.all()).extracting(AdapterVersion::getVersion).containsExactly(1, 2, 3);
    }

    @Test
    void shouldTombstoneVersionsDroppedFromMemoryUntilTheirTombstoneIsRead() {
        AdapterHistory history = new AdapterHistory(2);
        history.add(version(1));
        history.add(version(2));
        history.add(version(5));

        assertThat(history.all()).extracting(AdapterVersion::getVersion).containsExactly(2, 5);
        assertThat(history.expiredBy(6)).containsExactly(1, 2);
        history.remove(1);
        assertThat(history.expiredBy(6)).containsExactly(2);
        assertThat(history.version(1)).isEmpty();
        assertThat(history.version(5)).isPresent();
    }
}
