/**
 * Getting items to devices: one {@link org.imrouter.node.delivery.Session} actor per connection
 * (client frames in, server frames out) and one {@link org.imrouter.node.delivery.Gateway} per
 * node that receives each group item once and hands it to the node's sessions.
 */
package org.imrouter.node.delivery;
