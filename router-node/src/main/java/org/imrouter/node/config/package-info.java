/** Typed view of the {@code router { … }} configuration (documented in application.conf). */
package org.imrouter.node.config;
