package io.tunestream.ingest.jsonl;

import java.io.PrintWriter;
import java.time.Clock;

/**
 * A one-line progress bar on the error stream ({@code label [=====>    ] 120/200  60%  85/s}),
 * redrawn in place at most every {@code 200 ms} and ended with a newline by {@link #finish()}.
 */
public final class ProgressBar {

    private static final int WIDTH = 30;
    private static final long REDRAW_MILLIS = 200;

    private final PrintWriter err;
    private final String label;
    private final long total;
    private final Clock clock;
    private final long startMillis;
    private long done;
    private long drawnAtMillis = Long.MIN_VALUE;

    public ProgressBar(PrintWriter err, String label, long total, Clock clock) {
        this.err = err;
        this.label = label;
        this.total = total;
        this.clock = clock;
        this.startMillis = clock.millis();
    }

    /** Records {@code count} more items done; redraws if the last drawing is old enough. */
    public void advance(long count) {
        done += count;
        long now = clock.millis();
        if (now - drawnAtMillis >= REDRAW_MILLIS) {
            draw(now);
        }
    }

    /** Draws the final state and ends the line. */
    public void finish() {
        draw(clock.millis());
        err.println();
        err.flush();
    }

    /** The bar as it would be drawn now (without the leading carriage return). */
    public String render(long nowMillis) {
        int filled = total == 0 ? WIDTH : (int) (WIDTH * done / total);
        StringBuilder bar = new StringBuilder(label).append(" [");
        for (int i = 0; i < WIDTH; i++) {
            bar.append(i < filled ? '=' : i == filled ? '>' : ' ');
        }
        long percent = total == 0 ? 100 : 100 * done / total;
        double seconds = Math.max(1, nowMillis - startMillis) / 1000.0;
        return bar.append("] ").append(done).append('/').append(total).append(' ').append(String.format("%3d%%", percent))
                .append(' ').append(Math.round(done / seconds)).append("/s").toString();
    }

    private void draw(long now) {
        drawnAtMillis = now;
        err.print('\r' + render(now));
        err.flush();
    }
}
