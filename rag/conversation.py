"""Conversations: a follow-up question resolved against the turns before it.

A follow-up ("If I start at the latest time allowed, when would I finish?") names nothing of its own that
retrieves well; what it is about is in the earlier turns. ``FollowupResolver`` turns the question and the history
into a ``Resolution``: the standalone question to answer (its chunks are what is retrieved), whether a cue made it
certain that the question continues the conversation (if not, the question as asked is retrieved too: a new topic
is then read alone, or the two rankings are fused by reciprocal rank fusion), and the chunks earlier answers cited
(a boost in the fusion, never a way around the tenant filter: only chunks retrieval found count).

Two ways to get the standalone question:

- the bundled 135M model cannot rewrite a question reliably, so the method is lexical: a follow-up is told by its
  cues (pronouns and demonstratives, "what about ...", "and ...", a question of one or two content words), and the
  key terms of the turn before (its standalone question, so a chain of follow-ups keeps its topic) are carried in;
- a capable model (profile "generative") is asked to rewrite the question in its own prompt layout
  (``ModelRewriter``); its output is kept only when it is one question that keeps the follow-up's own words, else
  the lexical method is used.

When a question points at something no turn names ("this state library", "the other one", a bare "it" with no
history), or at one of several the turn before names ("the plan" after three plans), guessing would answer about
the wrong thing: the resolution carries a short clarifying question instead, naming the candidates when there are.

Earlier answers only help to understand the question (their words can tell whether "this card" was named); they are
never evidence: the pipeline cites documents only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from rag.models.ports import GenerationParams, LanguageModel
from rag.retrieval import RRF_K
from rag.text import content_words
from rag.types import RetrievedChunk


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, as the pipeline needs it: what was asked, what was answered, the
    chunks the answer cited, and the standalone question it was resolved to (None when asked as is)."""

    question: str
    answer: str
    cited_chunk_ids: tuple[str, ...] = ()
    standalone: str | None = None

    @property
    def asked(self) -> str:
        """What this turn was about, resolved: its standalone question when it had one."""
        return self.standalone or self.question


@dataclass(frozen=True)
class Resolution:
    """A question read in its conversation. ``standalone`` is what is answered (evidence, prompt, verification);
    ``followup`` says the question was read with the history, so retrieval also runs on ``question`` as asked and
    fuses both; ``cited_chunk_ids`` are the chunks the previous answer cited; ``clarify`` (when not None) is the
    clarifying question to ask instead of answering."""

    question: str
    standalone: str
    followup: bool = False
    cited_chunk_ids: tuple[str, ...] = ()
    clarify: str | None = None
    certain: bool = True  # False: no cue said follow-up; retrieval decides (``with_history_retrieves_better``)

    @property
    def changed(self) -> bool:
        return self.standalone != self.question

    def as_asked(self) -> Resolution:
        """The question read alone after all (a new topic): answered as asked, nothing carried over."""
        return Resolution(question=self.question, standalone=self.question)


# --- reading a question -------------------------------------------------------------------------------------------


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_WORDS_OR_CJK = re.compile(rf"{_CJK_RUN.pattern}|{_WORDS.pattern}")
# Words that point back at something said before.
_ANAPHORA = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|there|then|"
    r"such|same|former|latter|above|one|ones|other|else|also|too|instead)\b",
    re.IGNORECASE,
)
# Openings that continue a conversation rather than start one.
_CONTINUES = re.compile(
    r"^\s*(?:and|but|or|so|then|also|besides|plus|what about|how about|what else|and what|what if|why not|"
    r"same for|now|ok|okay)\b",
    re.IGNORECASE,
)
_CHINESE_CONTINUES = re.compile(r"^\s*(?:那|那么|还有|另外|而且|此外)|它|他们|她们|这个|那个|这些|那些|该|其")
_DEMONSTRATIVE = re.compile(r"\b(this|that|these|those)\s+((?:[A-Za-z][A-Za-z'’-]*\s*){1,3})", re.IGNORECASE)
# Kinds of thing whose instances have names: "the park", "the fast food chain" with no name given and none in the
# conversation could be any of them. Plain nouns of a document's own subject ("the deadline", "the router") are
# not here, since in one's own documents there is usually one of them; nor are kinds whose names are usually
# written with them in lower case ("the cedar river", "the civil war").
_KINDS = (
    "country|countries|state|city|town|county|park|animal|actor|actress|singer|player|team|series|show|sitcom|"
    "episode|season|movie|film|book|author|novel|song|album|band|chain|restaurant|company|brand|product|plan|loan|"
    "card|court|library|department|hurricane|case|language|fund|bank|program|programme|school|university|college|"
    "president|minister|church|character|tournament|championship|election|agency|store|hospital|museum|airport|"
    "flag|policy|tutorial"
)
_DEFINITE_KIND = re.compile(rf"\bthe\s+((?:[A-Za-z][A-Za-z'’-]*\s+){{0,3}}?(?:{_KINDS}))\b(?=\s*(\S*))")
# What may follow such a "the <kind>" for it to stand alone: the end of the question, or a verb.
_ALONE_AFTER = re.compile(
    r"^(?:[?.!,;:]?$|(?:is|was|are|were|has|have|had|do|does|did|will|would|can|could|should|offer|offers|"
    r"publish|publishes|allow|allows|cost|costs|take|takes|mean|means|say|says|work|works)\b"
    r"|(?!(?:named|called|titled|entitled)\b)[a-z]+ed\b|['’]s\b)",
)
_ORDINALS = _word_set("first second third last next previous new old other same whole entire main")
_OTHER_ONE = re.compile(r"\bthe other (?:one|ones)\b|\bthe (?:first|second|last) one\b", re.IGNORECASE)
_TOKENS = re.compile(r"[A-Za-z][A-Za-z'’-]*|[^\sA-Za-z]+")
_PRONOUN = re.compile(r"\b(?:it|its|they|them|their|he|him|his|she|her)\b", re.IGNORECASE)


# After "this" or "that", words that make it a pronoun or a conjunction, not a pointer at a named thing.
_NOT_A_THING = _word_set(
    "is was are were be been being will would can could should may might must do does did has have had means mean "
    "meant happens happened happen works work worked way time times year years month months week weeks day days "
    "moment point one ones much many kind sort type lot matter the a an of to in on for and or with as at by from "
    "if when where why how what which who so but not no about all any some every each monday tuesday wednesday "
    "thursday friday saturday sunday weekend morning evening afternoon night"
)
_GENERIC = _word_set("a an any every each no another some")  # "a credit card": such things in general
_DETERMINERS = _word_set("this that these those each every your our my their its his her which")
_PREPOSITIONS = _word_set("of in on at for with about from to by into under over after before during through")
# "this paragraph", "these passages", "this reference text": the documents themselves, which are there to read.
_THE_DOCUMENTS = _word_set(
    "paragraph paragraphs passage passages text texts document documents article articles page pages entry entries "
    "excerpt excerpts reference references section sections context file files information content poem essay story "
    "bio biography description table list"
)
_NOT_A_NOUN = ("ed", "ly", "ent", "ive", "ful", "able", "ible", "ous", "ant")
_SAID_OF_IT = ("ly", "ed", "ing", "able", "ible", "ous", "ful")  # after a thing's first word: what is said of it
# Capitalised, yet no name: "the TV series" does not say which series.
_COMMON_ACRONYMS = frozenset({"TV", "PC", "CD", "DVD", "AI", "IT", "API", "ATM", "ETF", "VPN"})
MAX_CANDIDATES = 3  # named in a clarifying question ("Do you mean the A, the B or the C?"): a short question
_MAX_CONTEXT_TERMS = 8  # key terms carried from the turn before: enough to name a topic, not to replace the question
_SHORT = 2  # a question with at most this many content words of its own is read as a follow-up


Rarity = Callable[[set[str]], dict[str, float]]  # stemmed words -> how rare they are (KeywordIndex.idf)


def key_terms(
    text: str,
    leave_out: AbstractSet[str] = frozenset(),
    limit: int = _MAX_CONTEXT_TERMS,
    rarity: Rarity | None = None,
) -> list[str]:
    """The content words of ``text`` in their order, each once, without those (stemmed) in ``leave_out``; at most
    ``limit``: the rarest in the documents when ``rarity`` is given (they retrieve well), else the first."""
    terms: list[str] = []
    seen: set[str] = set(leave_out)
    for word in (re.split(r"['’]", w)[0] for w in _WORDS_OR_CJK.findall(text)):  # "What's" is "What"
        if _CJK_RUN.fullmatch(word):  # a run of Chinese is carried whole: the retrievers segment it themselves
            if word not in seen:
                seen.add(word)
                terms.append(word)
            continue
        stems = content_words(word)
        if not stems or stems & seen:
            continue
        seen |= stems
        terms.append(word)
    if len(terms) <= limit:
        return terms
    if rarity is None:
        return terms[:limit]
    rare = rarity({stem for t in terms for stem in content_words(t)})
    score = {t: max((rare.get(stem, 0.0) for stem in content_words(t)), default=float("inf")) for t in terms}
    kept = set(sorted(terms, key=lambda t: -score[t])[:limit])  # Chinese runs (no stems) are kept first
    return [t for t in terms if t in kept]


def is_followup(question: str) -> bool:
    """Whether the question reads as a continuation: it points back, opens as a continuation, or names almost
    nothing of its own."""
    if _ANAPHORA.search(question) or _CONTINUES.search(question) or _CHINESE_CONTINUES.search(question):
        return True
    if re.search(r"[\u4e00-\u9fff]", question):
        return len(question.strip()) <= 8
    return len(content_words(question)) <= _SHORT


def _pointed_at(question: str) -> list[tuple[str, bool, int]]:
    """The things a question points at with "this", "that", "these" or "those" ("this state library" ->
    "state library"), each with whether it is plural ("these"/"those") and where it starts; a pronoun use ("this
    is", "that means") points at nothing named."""
    things = []
    for match in _DEMONSTRATIVE.finditer(question):
        before = question[: match.start()].split()
        if not before:
            continue  # a sentence's first word: "That sounds hard", "This is ..." point at what was said
        if match.group(1).lower() in ("that", "those") and before[-1].lower() not in _PREPOSITIONS:
            continue  # "a problem that rests", "models that deviate": a relative clause, not a pointer
        if any(w.lower() in _THE_DOCUMENTS for w in match.group(2).split()[:3]):
            continue  # "Given this paragraph, ...", "from this reference text": what the question is asked over
        named: list[str] = []
        rest = _TOKENS.findall(question[match.start(2) :])  # words, and punctuation that ends a name
        for word in rest[:3]:
            if word.lower() in _NOT_A_THING or not content_words(word):
                break
            if not named and word.lower().endswith(_NOT_A_NOUN):
                break  # "Is this different", "Is this intended": said of it, not what it is
            if named and (_is_name(word) != _is_name(named[0]) or word.lower().endswith(_SAID_OF_IT)):
                break  # a name ends where capitals do; an adverb, participle or adjective starts what is said
            named.append(word)
        if named and rest[len(named) :][:1] != ["of"]:  # "this crown of thorns": the rest says which
            things.append((" ".join(named), match.group(1).lower() in ("these", "those"), match.start()))
    return things


def _named(thing: str, turns: Sequence[set[str]], plural: bool = False) -> bool:
    """Whether one earlier turn holds every content word of ``thing`` ("police department" is not named by a turn
    about a state department, nor "this particular index fund" by one about index funds in general). "These" or
    "those" things point back at a set the conversation spoke of in its own words ("those camp facilities" after
    campsites and parks): a turn that holds the last word is enough."""
    words = content_words(thing.split()[-1]) if plural else content_words(thing)
    return any(words <= said for said in turns)


def _one_spoken_of(kind: str, history: Sequence[Turn]) -> bool:
    """Whether a turn speaks of one particular ``kind`` ("the card", "your card", "the Sapphire card"), not only of
    such things in general ("I'm not sure if I should take a credit card", "credit cards offer ..."): then "this
    card" asks which card."""
    singular = re.compile(rf"\b{re.escape(kind)}\b(?!s)", re.IGNORECASE)
    for turn in history:
        text = f"{turn.asked}. {turn.answer}"
        for match in singular.finditer(text):
            for word in reversed(_TOKENS.findall(text[max(0, match.start() - 60) : match.start()])[-3:]):
                if word.lower() in _GENERIC or not word[0].isalpha():
                    break  # "a credit card", or the sentence begins
                if word.lower() in _DETERMINERS or _is_name(word):
                    return True
    return False


def _is_name(word: str) -> bool:
    """A capitalised word that says which one ("the Latin language"); "TV" in "the TV series" says nothing."""
    return word[0].isupper() and word not in _COMMON_ACRONYMS


def _candidates(kind: str, turn: Turn) -> list[str]:
    """The named instances of ``kind`` a turn mentions ("Trial plan", "Standard Next plan"), each once."""
    pattern = re.compile(rf"((?:\b[A-Z][\w'’&-]*\s+){{1,3}}){re.escape(kind)}s?\b")
    found = dict.fromkeys(m.group(1).strip() + f" {kind}" for m in pattern.finditer(f"{turn.asked} {turn.answer}"))
    return [c for c in found if c.split()[0].lower() not in _NOT_A_THING | _DETERMINERS]


def _definite_kinds(question: str) -> Iterator[tuple[str, bool]]:
    """Each "the <kind>" that stands alone in the question ("the fast food chain", "the plan"), with whether it has
    modifiers; none that a name, an ordinal, a superlative or what follows already says ("the movie Safe Haven",
    "the first movie", "the largest city in Spain"). A question all in lower case (typed into a search box) writes
    names in lower case too: "the show the doctors", "the kansas city chiefs"; there only a bare kind at the end
    or before a verb counts."""
    lower = not any(c.isupper() for c in question)
    for match in _DEFINITE_KIND.finditer(question):
        thing, after = match.group(1), match.group(2)
        words = thing.split()
        if lower and len(words) > 1:
            continue  # "the supreme court": a name, as typed
        if any(_is_name(w) for w in words[:-1]):
            continue  # "the Latin language" says which
        if any(w.lower() in _ORDINALS or w.lower().endswith("est") or not content_words(w) for w in words):
            continue  # "the first movie", "the largest city", "the secretary of state": said which
        asked_of = re.search(r"\b(?:did|does|do|can|could|will|would|should)\s+the\s+$", question[: match.start() + 4])
        # "did the chain grow": a bare verb after the kind; "do the kansas city chiefs play": a plural noun
        verb_after = asked_of is not None and after.islower() and not re.search(r"[^s]s$", after)
        if _ALONE_AFTER.match(after) or (verb_after and not lower):
            yield thing, len(words) > 1


def clarification(question: str, history: Sequence[Turn]) -> str | None:
    """A short clarifying question when ``question`` points at something no turn names; None when it can be read.

    Fires on: "this/that <thing>" that no earlier turn names; "the <kind of named thing>" ("the fast food chain")
    that no turn names, or, where the turn before names several ("Trial plan", "Standard Next plan"), a question
    that names those; "the other one" with nothing before; a question whose only subject is a pronoun ("How much
    does it cost?") with nothing before. Ordinary standalone questions have none of these."""
    turns = [content_words(f"{turn.asked} {turn.answer}") for turn in history]
    for thing, plural, start in _pointed_at(question):
        before = [*history, Turn(question[:start], "")]  # "the Mercedes-Benz Stadium ... this stadium" says which
        said = [*turns, content_words(question[:start])]
        if not _named(thing, said, plural) or not (plural or _one_spoken_of(thing.split()[-1], before)):
            return f"Which {thing} do you mean?"
    for thing, modified in _definite_kinds(question):
        several = _candidates(thing, history[-1]) if history and not modified else []
        if len(several) > 1:
            *others, last = several[:MAX_CANDIDATES]
            return f"Do you mean the {', the '.join(others)} or the {last}?"
        if not _named(thing, turns):
            return f"Which {thing} do you mean?"
    if history:
        return None
    if _OTHER_ONE.search(question):
        return "Which one do you mean?"
    pronoun = _PRONOUN.search(question)
    if pronoun and len(content_words(question)) <= _SHORT and not content_words(question[: pronoun.start()]):
        return f"What does “{pronoun.group(0)}” refer to?"  # "what are nox and where do they come from" says what
    return None


# --- the resolvers ------------------------------------------------------------------------------------------------


class Rewriter(Protocol):
    """Rewrites a follow-up into a standalone question, or None when it cannot."""

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None: ...


ABOUT = " (about: "


def lexical_standalone(
    question: str, history: Sequence[Turn], rarity: Rarity | None = None, answer_terms: int = 0
) -> str:
    """The follow-up with the key terms of the turn before that it does not already hold, e.g. "If I start at the
    latest time allowed, when would I finish? (about: gliding schedule)"; unchanged when there are none. With
    ``answer_terms``, also that many of the rarest words of the answer before (what "it" was, as answered)."""
    asked, _, carried = history[-1].asked.partition(ABOUT)  # a resolved follow-up: its topic carries on too
    own = content_words(question)
    terms = key_terms(f"{asked} {carried.rstrip(')')}", leave_out=own, rarity=rarity)
    if answer_terms:
        held = own | {stem for t in terms for stem in content_words(t)}
        terms += key_terms(history[-1].answer, leave_out=held, limit=answer_terms, rarity=rarity)
    if not terms:
        return question
    return f"{question.strip()}{ABOUT}{' '.join(terms)})"


REWRITE_SYSTEM = (
    "You rewrite the user's last question so that it can be understood without the conversation. Replace every "
    "pronoun and vague reference with what it refers to. Reply with the rewritten question only, nothing else."
)
REWRITE_TURNS = 3  # earlier turns shown to the rewriting model
REWRITE_ANSWER_CHARS = 300  # of each earlier answer: enough to say what it was about


@dataclass
class ModelRewriter:
    """A capable model's rewrite, in its own prompt layout (rag/models/families.py); kept only when it is one
    question that keeps some of the follow-up's own words."""

    llm: LanguageModel
    max_new_tokens: int = 64

    def prompt(self, question: str, history: Sequence[Turn]) -> str:
        lines = []
        for turn in history[-REWRITE_TURNS:]:
            lines.append(f"User: {turn.asked}")
            lines.append(f"Assistant: {turn.answer[:REWRITE_ANSWER_CHARS]}")
        conversation = "\n".join(lines)
        user = f"Conversation:\n{conversation}\n\nLast question: {question}\n\nStandalone question:"
        return self.llm.family.format(user=user, system=REWRITE_SYSTEM)

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        params = GenerationParams(max_new_tokens=self.max_new_tokens)  # the model enforces its family's stops
        text = self.llm.generate(self.prompt(question, history), params).text
        return verified_rewrite(question, text)


def verified_rewrite(question: str, text: str) -> str | None:
    """The model's rewrite when it is one question (ends with a question mark, one line, not much longer than a
    question) that keeps at least one content word of the follow-up (or the follow-up has none); else None."""
    line = text.strip().strip('"“”').strip()
    if not line or "\n" in line or not line.endswith(("?", "？")) or len(line) > max(300, 3 * len(question)):
        return None
    own = content_words(question)
    if own and not own & content_words(line):
        return None
    return line


@dataclass
class FollowupResolver:
    """Reads a question in its conversation (see the module's docstring); ``rewriter`` None: the lexical method."""

    rewriter: Rewriter | None = None
    rarity: Rarity | None = None  # the documents' word rarity (KeywordIndex.idf): carried terms are the rarest
    answer_terms: int = 0  # rare words of the previous answer carried too

    def resolve(self, question: str, history: Sequence[Turn] = ()) -> Resolution:
        ask = clarification(question, history)
        if ask is not None:
            return Resolution(question=question, standalone=question, clarify=ask)
        if not history:
            return Resolution(question=question, standalone=question)
        cited = history[-1].cited_chunk_ids
        if self.rewriter is not None:
            rewritten = self.rewriter.rewrite(question, history)
            if rewritten is not None:
                return Resolution(question=question, standalone=rewritten, followup=True, cited_chunk_ids=cited)
        standalone = lexical_standalone(question, history, self.rarity, self.answer_terms)
        if standalone == question:
            return Resolution(question=question, standalone=question)
        certain = is_followup(question)
        return Resolution(question, standalone, followup=True, cited_chunk_ids=cited, certain=certain)


def with_history_retrieves_better(with_history: Sequence[RetrievedChunk], alone: Sequence[RetrievedChunk]) -> bool:
    """For a question with no follow-up cue ("If I start at the latest time allowed, when would I finish?"): it is
    read with the history when the history's terms bring chunks closer to it than the question finds alone (its
    own words do not retrieve well); a new topic finds its chunks better alone."""
    if not alone:
        return True
    return bool(with_history) and with_history[0].score > alone[0].score


# --- fusing what the two readings retrieved -----------------------------------------------------------------------

WITH_HISTORY_WEIGHT = 1.0  # the standalone question's ranking leads
ALONE_WEIGHT = 0.5  # the question as asked: a new topic is still found, a vague follow-up does not take over
CITED_WEIGHT = 0.5  # a chunk the previous answer cited, among those retrieved, moves up


def fuse(
    with_history: Sequence[RetrievedChunk],
    alone: Sequence[RetrievedChunk],
    cited: Sequence[str],
    top_k: int,
) -> list[RetrievedChunk]:
    """Weighted reciprocal rank fusion of the two rankings, plus a boost for earlier-cited chunks; the best
    ``top_k``, renumbered. Only chunks that retrieval returned can appear (so tenant filters hold)."""
    by_id: dict[str, RetrievedChunk] = {}
    scores: dict[str, float] = {}
    for weight, ranking in ((WITH_HISTORY_WEIGHT, with_history), (ALONE_WEIGHT, alone)):
        for rank, chunk in enumerate(ranking, start=1):
            by_id.setdefault(chunk.chunk_id, chunk)
            scores[chunk.chunk_id] = scores.get(chunk.chunk_id, 0.0) + weight / (RRF_K + rank)
    for rank, chunk_id in enumerate((c for c in cited if c in by_id), start=1):
        scores[chunk_id] += CITED_WEIGHT / (RRF_K + rank)
    order = sorted(scores, key=lambda c: -scores[c])[:top_k]
    return [
        by_id[c].model_copy(update={"rank": rank, "fusion_score": round(scores[c], 6)})
        for rank, c in enumerate(order, start=1)
    ]
