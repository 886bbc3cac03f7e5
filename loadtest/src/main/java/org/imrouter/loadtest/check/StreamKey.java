package org.imrouter.loadtest.check;

/** One stream as one session sees it (a session id, and "inbox" or "group:<id>"). */
public record StreamKey(String session, String stream) {}
