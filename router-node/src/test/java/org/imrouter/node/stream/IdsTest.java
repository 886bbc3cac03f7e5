package org.imrouter.node.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The id alphabet is closed: ids become persistence ids, so nothing outside it may pass. */
class IdsTest {
  @Test
  void acceptsEveryCharacterOfTheAlphabetUpToTheMaximumLength() {
    assertTrue(Ids.isValid("azAZ09._@-"));
    assertTrue(Ids.isValid("a"));
    assertTrue(Ids.isValid("x".repeat(Ids.MAX_ID_LENGTH)));
  }

  @Test
  void rejectsEmptyTooLongAndEveryCharacterOutsideTheAlphabet() {
    assertFalse(Ids.isValid(null));
    assertFalse(Ids.isValid(""));
    assertFalse(Ids.isValid("x".repeat(Ids.MAX_ID_LENGTH + 1)));
    // separators of ours, whitespace, and letters and digits outside ASCII
    for (String bad : new String[] {"a:b", "a|b", "a b", "a/b", "a\nb", "é", "ａ", "١", "a\u0000"}) {
      assertFalse(Ids.isValid(bad), bad);
    }
    // the neighbours of every range edge ('@', just below 'A', is in the alphabet)
    for (char c : new char[] {'`', '{', '@', '[', '/', ':', ',', '^'}) {
      boolean expected = c == '@';
      assertEquals(expected, Ids.isValid("a" + c), "char " + (int) c);
    }
  }

  @Test
  void parsesTargetsAndStreamsOnlyWithValidIds() {
    assertEquals(Optional.of(new Ids.Address(Ids.Address.Kind.USER, "bob")), Ids.parseTarget("user:bob"));
    assertEquals(Optional.of(new Ids.Address(Ids.Address.Kind.GROUP, "g.1")), Ids.parseTarget("group:g.1"));
    assertEquals(Optional.empty(), Ids.parseTarget("user:"));
    assertEquals(Optional.empty(), Ids.parseTarget("user:a:b"));
    assertEquals(Optional.empty(), Ids.parseTarget("inbox"));
    assertEquals(Optional.of(new Ids.Address(Ids.Address.Kind.INBOX, "")), Ids.parseStream("inbox"));
    assertEquals(Optional.empty(), Ids.parseStream("user:bob"));
  }
}
