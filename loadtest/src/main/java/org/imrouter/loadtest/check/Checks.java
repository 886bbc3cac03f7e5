package org.imrouter.loadtest.check;

/**
 * The checkers of one run, shared by all its sessions. Any violation fails the run.
 */
public final class Checks {
  /** Violations counted so far. */
  public record Summary(
      long lostDeliveries, long duplicates, long gaps, long missingSeqs, long outOfOrder, long storedMismatches, long storedCompared) {
    public long violations() {
      return lostDeliveries + duplicates + gaps + outOfOrder + storedMismatches;
    }
  }

  public final LossChecker loss = new LossChecker();
  public final DuplicateChecker duplicates = new DuplicateChecker();
  public final SeqGapChecker seqs = new SeqGapChecker();
  public final StoredDeliveredChecker stored = new StoredDeliveredChecker();

  public Summary summary() {
    return new Summary(
        loss.lostDeliveries(),
        duplicates.duplicates(),
        seqs.gaps(),
        seqs.missingSeqs(),
        seqs.outOfOrder(),
        stored.mismatches().size(),
        stored.compared());
  }
}
