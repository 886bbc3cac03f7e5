package org.imrouter.node.config;

/** The kinds of client frame that cost the node work and are rate-limited per user (router.limits). */
public enum LimitedFrame {
  SEND,
  SYNC,
  READ,
  TYPING,
  /** createGroup, addMembers, removeMembers, leaveGroup, setRole */
  GROUP_OP,
  /** in-band token refresh (each one verifies a JWT) */
  REFRESH
}
