/** The Quarkus shell: typed configuration from TUNESTREAM_* variables, start and stop, health checks. */
package io.tunestream.trainer.service;
