/**
 * Correctness checks that run during every load scenario: no loss, no duplicate, no live seq gap,
 * and stored == delivered at the end.
 */
package org.imrouter.loadtest.check;
