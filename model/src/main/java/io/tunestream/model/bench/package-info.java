/** Commands that print performance figures (not run by the test suite). */
package io.tunestream.model.bench;
