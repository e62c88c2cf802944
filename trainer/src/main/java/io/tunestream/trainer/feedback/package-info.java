/** Feedback verdicts turned into training examples (CORRECTED, ACCEPTED with its answer) or counted (REJECTED). */
package io.tunestream.trainer.feedback;
