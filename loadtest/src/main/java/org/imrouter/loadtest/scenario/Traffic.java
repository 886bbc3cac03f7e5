package org.imrouter.loadtest.scenario;

import org.imrouter.loadtest.client.ClientSession;

/** What a ladder sends: the i-th send of a step goes from a sender to an address, for an audience. */
@FunctionalInterface
interface Traffic {
  /** One send: {@code to} is "user:&lt;id&gt;" or "group:&lt;id&gt;". */
  record Planned(ClientSession sender, String to, Audience audience) {}

  Planned plan(long i);
}
