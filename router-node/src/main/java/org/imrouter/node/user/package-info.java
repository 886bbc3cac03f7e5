/** The user entity: a user's inbox stream, its sessions and its direct-message transfers. */
package org.imrouter.node.user;
