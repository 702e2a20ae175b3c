"""Chinese words for search: the same segmentation for the index and for the query.

Chinese has no spaces, so a full-text index needs the text cut into words first.
rjieba (jieba's dictionary and algorithm, in Rust: about 6 µs for a 40-character
sentence here) cuts it; the index tokenizer (FTS5 `unicode61`, or Elasticsearch's
whitespace analyzer) then only splits on the separator put between the words.
Measured alternatives: FTS5's own `trigram` tokenizer cannot match two-character
words (most Chinese words: 停水, 社保, 户口), and a character-bigram index matches
across word boundaries (公积金提取 contains 金提).

- `marked(text)`: the text with an invisible separator (U+2063) between its words, so
  the index can return highlights and snippets that read as the original once the
  separator is removed (`plain`);
- `search_terms(text)`: the extra sub-words of search mode (居民身份证 → 身份证, 身份)
  so a short query finds a long word and the other way round;
- `query_terms(query)`: what a caller's words become: each word with its synonyms
  (社保 ⇄ 社会保险, data in `data/synonyms.json`), stop words dropped;
- `sound(word)`: how a word sounds (pypinyin, tones dropped), indexed for the title's
  and keywords' words and looked for with the query's, so a homophone typo — the
  commonest kind when callers' words are typed — still finds the article.

The dictionary is jieba's own plus the synonym terms, loaded once at import, never
from articles at run time: the same text must always cut the same way, or a rebuilt
index would differ from the one it replaces.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import rjieba
from pypinyin import lazy_pinyin

SEP = "\u2063"  # INVISIBLE SEPARATOR: a word boundary the index splits on, never typed
DATA = Path(__file__).parent / "data"
_WORDISH = re.compile(r"[\w]", re.UNICODE)
_HAN = re.compile(r"[\u4e00-\u9fff]+")
STOP_WORDS = frozenset(
    line.strip() for line in (DATA / "stopwords.txt").read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#"))


@functools.cache
def synonym_groups() -> dict[str, frozenset[str]]:
    """Every term of a synonym group -> the whole group (data/synonyms*.json, merged)."""
    groups: dict[str, frozenset[str]] = {}
    for path in sorted(DATA.glob("synonyms*.json")) + sorted(DATA.glob("sample/synonyms*.json")):
        for group in json.loads(path.read_text("utf-8")):
            terms = frozenset(normal(t) for t in group if normal(t))
            merged = terms.union(*(groups.get(t, frozenset()) for t in terms))
            for term in merged:
                groups[term] = merged
    return groups


@functools.cache
def _dictionary() -> None:
    """Teach the segmenter the synonym terms (once): 住房公积金, 居住证 … stay whole."""
    for term in synonym_groups():
        if len(term) > 1 and not rjieba.has_word(term):
            rjieba.add_word(term, None, None)


def normal(text: str) -> str:
    """Full-width forms folded (ＡＢＣ１２３ → ABC123), letters lower-cased, trimmed."""
    return unicodedata.normalize("NFKC", text).lower().strip()


def words(text: str) -> list[str]:
    """The text cut into words, every character kept (precise mode)."""
    _dictionary()
    return rjieba.cut(normal(text))


def marked(text: str) -> str:
    """The text as written, with SEP between its words: what the index stores and
    highlights (not normalised: a highlight must read exactly as the article; the
    normalised words are in the terms beside it)."""
    _dictionary()
    return SEP.join(rjieba.cut(text))


def plain(text: str) -> str:
    """A highlight or snippet from the index, read as the original again."""
    return text.replace(SEP, "")


def _meaningful(word: str) -> bool:
    return bool(_WORDISH.search(word)) and word not in STOP_WORDS


def search_terms(texts: Iterable[str], sounding: Iterable[str] = ()) -> str:
    """The sub-words of search mode and the synonyms of every word of `texts`, and how the
    words of `sounding` (title, keywords) sound, space-separated: indexed beside the
    text, so 身份证 finds 居民身份证, 社保 finds 社会保险, and 公基金 (gong ji jin) 公积金."""
    _dictionary()
    found: dict[str, None] = {}
    groups = synonym_groups()
    for text in texts:
        for word in rjieba.cut_for_search(normal(text)):
            if _meaningful(word):
                found[word] = None
                found.update(dict.fromkeys(groups.get(word, ())))
    for text in sounding:
        found.update(dict.fromkeys(filter(None, map(sound, words(text)))))
    return " ".join(found)


def sound(word: str) -> str | None:
    """How a word of two to six Chinese characters sounds, tones dropped (公积金 → gongjijin):
    the key a homophone typo (公基金, 身分证, 燃汽) shares with the word meant."""
    if not 2 <= len(word) <= 6 or not _HAN.fullmatch(word):
        return None
    return _pinyin(word)


@functools.lru_cache(maxsize=200_000)
def _pinyin(han: str) -> str:
    """pypinyin's reading of a run of Chinese characters (about 40 µs: remembered)."""
    return "".join(lazy_pinyin(han))


@dataclass(frozen=True, slots=True)
class Group:
    """One word of a query: itself and its synonyms (`core`), and what else may stand for
    it (`extra`: its sub-words, `sounds`: how the core sounds)."""

    core: frozenset[str]
    extra: frozenset[str] = frozenset()
    sounds: frozenset[str] = frozenset()
    terms: frozenset[str] = field(init=False, repr=False, compare=False)  # all of them

    def __post_init__(self) -> None:  # made once: a search asks for them several times
        object.__setattr__(self, "terms", self.core | self.extra | self.sounds)

    @property
    def written(self) -> frozenset[str]:
        """Its terms as written (no sounds): what an offer's coverage compares."""
        return self.core | self.extra


def query_groups(query: str, limit: int = 24) -> list[Group]:
    """What a search looks for: each word with its synonyms, sub-words and sound, and the
    sound of each run of two or three words (a typo often splits one: 公基金 → 公 基金,
    which sounds like 公积金) as a group of its own (`core` empty). A run sounds as its
    words do one after the other: remembered word by word, a caller's new sentence costs
    pypinyin only for words never heard before (a 100-character text took 3 ms when each
    run was read afresh)."""
    _dictionary()
    synonyms = synonym_groups()
    found: dict[str, Group] = {}
    cut = words(query)
    for word in cut:
        if not _meaningful(word) or word in found:
            continue
        core = frozenset({word} | set(synonyms.get(word, ())))
        subwords = ({w for w in rjieba.cut_for_search(word) if len(w) > 1} if len(word) > 2
                    else set())
        found[word] = Group(core, frozenset(subwords - core),
                            frozenset(s for s in map(sound, core) if s))
    groups = list(found.values())[:limit]
    pieces = [w for w in cut if _HAN.fullmatch(w)]
    seen = {t for g in groups for t in g.terms}
    for size in (2, 3):
        for i in range(len(pieces) - size + 1):
            run = pieces[i:i + size]
            key = "".join(map(_pinyin, run)) if 2 <= sum(map(len, run)) <= 6 else None
            if key and key not in seen:
                seen.add(key)
                groups.append(Group(frozenset(), sounds=frozenset({key})))
    return groups


def query_alternatives(query: str) -> list[str]:
    """Every term of every group, sorted: the query both engines can run as one OR."""
    return sorted({term for group in query_groups(query) for term in group.terms})


def query_terms(query: str) -> list[frozenset[str]]:
    """A query's words, each with its synonyms and sub-words (no sounds): what an offer's
    coverage counts (offers.py)."""
    return [g.written for g in query_groups(query) if g.core]
