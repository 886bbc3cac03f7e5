/** Open-loop rate control: sends are due at fixed times, independent of the answers. */
package org.imrouter.loadtest.rate;
