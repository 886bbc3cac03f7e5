package org.imrouter.loadtest.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Refused sends go out again one at a time, in the order they were made, with every new send to
 * the same conversation behind them; other conversations are not held up.
 */
class ResendQueuesTest {
  private record Send(String conversation, long order) {}

  private final List<Send> transmitted = new ArrayList<>();
  private final List<Runnable> backoffs = new ArrayList<>();
  private final ResendQueues<Send> queues = new ResendQueues<>(Send::conversation, Send::order, transmitted::add, backoffs::add);

  @Test
  void refusedSendsGoAgainInOrderOneAtATimeAndNewSendsWaitBehindThem() {
    Send s1 = new Send("a", 1);
    Send s2 = new Send("a", 2);
    Send other = new Send("b", 3);
    Send s4 = new Send("a", 4);
    queues.send(s1);
    queues.send(s2);
    assertEquals(List.of(s1, s2), transmitted, "no refusal yet: out at once");

    // the later one's refusal can arrive first
    queues.refused(s2);
    queues.refused(s1);
    queues.send(other);
    queues.send(s4);
    assertEquals(List.of(s1, s2, other), transmitted, "s4 waits behind the refused sends; b is not held up");

    assertEquals(1, backoffs.size(), "one backoff for the conversation, not one per refused send");
    backoffs.get(0).run();
    assertEquals(List.of(s1, s2, other, s1), transmitted, "after the backoff the earliest goes first, alone");
    queues.accepted(s1);
    assertEquals(s2, last(), "each accepted one sends the next");
    queues.refused(s2);
    assertEquals(s2, last(), "refused again: nothing goes out before the backoff");
    backoffs.get(backoffs.size() - 1).run();
    assertEquals(s2, last());
    queues.accepted(s2);
    assertEquals(s4, last(), "then the new send that waited");
    queues.accepted(s4);

    Send s5 = new Send("a", 5);
    queues.send(s5);
    assertEquals(s5, last(), "the queue is empty: out at once again");
  }

  @Test
  void aSendGivenUpNoLongerHoldsUpItsConversation() {
    Send s1 = new Send("a", 1);
    Send s2 = new Send("a", 2);
    queues.send(s1);
    queues.refused(s1);
    queues.send(s2);
    backoffs.get(0).run();
    assertEquals(s1, last());
    queues.gaveUp(s1);
    assertEquals(s2, last());
  }

  private Send last() {
    return transmitted.get(transmitted.size() - 1);
  }
}
