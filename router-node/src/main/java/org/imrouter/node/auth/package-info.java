/** Who is calling: JWT verification for client connections. */
package org.imrouter.node.auth;
