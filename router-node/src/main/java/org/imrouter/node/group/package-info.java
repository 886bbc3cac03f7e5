/** The group entity: members and roles, the group stream, per-node fan-out. */
package org.imrouter.node.group;
