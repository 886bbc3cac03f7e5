/**
 * The load scenarios (dm with its baselines, connections, connect-storm, group, hot) and the
 * ladder machinery they share.
 */
package org.imrouter.loadtest.scenario;
