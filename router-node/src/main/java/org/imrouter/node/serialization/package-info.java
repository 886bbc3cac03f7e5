/** Serialization support for messages that cross nodes. */
package org.imrouter.node.serialization;
