/**
 * Getting items to devices: one {@link org.imrouter.node.delivery.Session} actor per connection
 * (client frames in, server frames out) and one {@link org.imrouter.node.delivery.Gateway} per
 * node that receives each group item once and hands it to the node's sessions. How fast sessions
 * are taken on: {@link org.imrouter.node.delivery.ReconnectBackoff} (when a client sent away
 * comes back) and {@link org.imrouter.node.delivery.NodeLoad} (whether the node is too far
 * behind to take on any).
 */
package org.imrouter.node.delivery;
