package org.imrouter.loadtest.scenario;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.imrouter.loadtest.client.ClientSession;

/**
 * The sessions that must receive a send (one receiver of a direct message, every member of a
 * group), numbered so that a message can mark its deliveries in a bitmap. Built once per pair or
 * group and shared by all its sends.
 */
record Audience(Set<String> sessionIds, Map<String, Integer> index) {
  static final int NOT_IN_AUDIENCE = -1;

  static Audience of(List<ClientSession> sessions) {
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < sessions.size(); i++) {
      index.put(sessions.get(i).id(), i);
    }
    return new Audience(Set.copyOf(index.keySet()), Map.copyOf(index));
  }

  int size() {
    return index.size();
  }

  /** The session's number, or {@link #NOT_IN_AUDIENCE} (e.g. a direct message's sender). */
  int indexOf(String sessionId) {
    return index.getOrDefault(sessionId, NOT_IN_AUDIENCE);
  }
}
