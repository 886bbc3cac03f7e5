package org.imrouter.loadtest.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.imrouter.loadtest.check.Checks;
import org.imrouter.protocol.v1.ClientFrame;
import org.imrouter.protocol.v1.Error;
import org.imrouter.protocol.v1.History;
import org.imrouter.protocol.v1.Message;
import org.imrouter.protocol.v1.ServerFrame;
import org.imrouter.protocol.v1.StreamItem;
import org.junit.jupiter.api.Test;

/** Counting a stream back follows hasMore, and retries a page the server answered UNAVAILABLE. */
class ClientSessionTest {
  private static final long WAIT_SECONDS = 10;

  /** Captures what the session sends instead of a connection. */
  private static final class Recorder implements Outbound {
    final BlockingQueue<ClientFrame> sent = new LinkedBlockingQueue<>();

    @Override
    public boolean send(byte[] frame) {
      try {
        sent.add(ClientFrame.parseFrom(frame));
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
      return true;
    }

    @Override
    public void close() {}

    ClientFrame next() throws InterruptedException {
      ClientFrame f = sent.poll(WAIT_SECONDS, TimeUnit.SECONDS);
      assertNotNull(f, "the session sent nothing");
      return f;
    }
  }

  private static ClientSession session(Recorder out) {
    ClientSession s = new ClientSession("s1", "alice", new Checks(), SessionListener.NONE);
    s.attach(out);
    return s;
  }

  private static void answer(ClientSession s, ServerFrame frame) {
    s.onBytes(ByteBuffer.wrap(frame.toByteArray()));
  }

  private static ServerFrame error(String code) {
    return ServerFrame.newBuilder().setError(Error.newBuilder().setRef(ClientSession.INBOX).setCode(code).setMessage("m")).build();
  }

  private static ServerFrame page(long firstSeq, int items, boolean hasMore) {
    History.Builder h = History.newBuilder().setStream(ClientSession.INBOX).setHasMore(hasMore);
    for (int i = 0; i < items; i++) {
      h.addItems(StreamItem.newBuilder().setMessage(Message.newBuilder().setStream(ClientSession.INBOX).setSeq(firstSeq + i)));
    }
    return ServerFrame.newBuilder().setHistory(h).build();
  }

  @Test
  void aPageAnsweredUnavailableIsAskedAgainAndTheCountGoesOn() throws Exception {
    Recorder out = new Recorder();
    ClientSession s = session(out);
    CompletableFuture<Long> count = s.countStored(ClientSession.INBOX, 0, 2).toCompletableFuture();

    assertEquals(0, out.next().getSync().getAfterSeq());
    answer(s, page(1, 2, true));
    assertEquals(2, out.next().getSync().getAfterSeq());
    answer(s, error(ClientSession.UNAVAILABLE));
    assertEquals(2, out.next().getSync().getAfterSeq(), "the same page again");
    answer(s, page(3, 1, false));

    assertEquals(3L, count.get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertNull(out.sent.poll(), "nothing after the last page");
  }

  @Test
  void anotherErrorOrTooManyUnavailableAnswersFailTheCount() throws Exception {
    Recorder out = new Recorder();
    ClientSession s = session(out);
    CompletableFuture<Long> forbidden = s.countStored(ClientSession.INBOX, 0, 2).toCompletableFuture();
    out.next();
    answer(s, error("FORBIDDEN"));
    ExecutionException e = assertThrows(ExecutionException.class, () -> forbidden.get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertEquals("FORBIDDEN", assertInstanceOf(ServerError.class, e.getCause()).code());

    CompletableFuture<Long> unavailable = s.countStored(ClientSession.INBOX, 0, 2).toCompletableFuture();
    for (int attempt = 1; attempt <= ClientSession.UNAVAILABLE_ATTEMPTS; attempt++) {
      out.next();
      answer(s, error(ClientSession.UNAVAILABLE));
    }
    e = assertThrows(ExecutionException.class, () -> unavailable.get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertEquals(ClientSession.UNAVAILABLE, assertInstanceOf(ServerError.class, e.getCause()).code());
    assertNull(out.sent.poll(), "no attempt after the last");
  }
}
