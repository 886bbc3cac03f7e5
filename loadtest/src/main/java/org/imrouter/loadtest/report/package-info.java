/** Results of a run and how they are shown: the stdout table, report.json, report.html. */
package org.imrouter.loadtest.report;
