/** Command-line parsing for the load generator: flags with defaults, durations, lists. */
package org.imrouter.loadtest.cli;
