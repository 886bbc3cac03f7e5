/** What the load generator measures: latency histograms (HdrHistogram), per-second timelines, process CPU. */
package org.imrouter.loadtest.metrics;
