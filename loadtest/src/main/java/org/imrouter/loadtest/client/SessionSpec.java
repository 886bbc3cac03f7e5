package org.imrouter.loadtest.client;

/** A session to open: its run-unique id and the user it authenticates as. */
public record SessionSpec(String id, String user) {}
