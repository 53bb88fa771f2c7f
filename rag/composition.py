"""Composed answers: several evidence sentences, chosen for coverage, each quoted and cited on its own.

With the bundled 135M model an answer of several facts cannot be left to the model: given three facts it writes
one sentence, and given whole chunks it invents (../shared/PLATFORM.md). But a list, the steps of a procedure, a
summary, a comparison, a yes or no and an explanation can be composed from the documents' own sentences, each
quoted verbatim, so every sentence of the answer is backed by the sentence it cites. What is chosen:

1. the best evidence sentence, and every sentence that scores nearly as well (within ``MARGIN`` of it), in the
   order of maximal marginal relevance: one that says again what a chosen one says (``REDUNDANT``) is skipped; a
   sentence's relevance is at least what the heading of its section earns (``SECTION_WEIGHT``), and a sentence
   that refers back ("Currently, this supports gzip, ...") comes with the one it continues;
2. for a list, steps or a summary, when the source is a list, the whole list: the sentence that introduces it and
   its items (short items too, and the items in the next chunk when the list runs on), in the document's order;
   when the best sentence heads a section whose subsections are the items ("Types of flexible schedules" >
   "Flexitour", "Gliding", ...), the first sentence of each, named by its heading; steps written as paragraphs of
   one section, the section's sentences;
3. for a comparison, the opening sentences of the sections headed by each thing compared (or the best sentences
   that name it), leaving out what both say alike; a second document when the question names nothing;
4. for a yes/no question, the verdict the best evidence gives: "No" when it negates what the question asks
   ("Wildcard imports ... are not used"), "Yes" when it states it plainly, and otherwise no verdict but "The
   documents say:" before the evidence.

The shape (how many sentences, the documents' order or relevance, a list or prose) comes from the question's type
(rag/question.py). Headings, questions (a FAQ's own) and boilerplate are never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.evidence import Evidence, Ranked, with_heading
from rag.language import detect
from rag.question import Question, topic
from rag.text import Sentence, content_words, is_table_row, numbers, readable, split_sentences
from rag.types import RetrievedChunk, SentenceSupport
from rag.verification import Verified, is_question

# A sentence joins the answer when it scores within MARGIN of the best one; fitted on the odd-numbered English
# questions of realq-dev and checked on the even ones (docs/evaluation.md).
MARGIN = 0.12
# A comparison that names no sides draws on a second document when its best sentence scores this close.
WIDE_MARGIN = 0.25
# Sentences quoted on each side of a comparison that names its sides.
SIDE_SENTENCES = 2
# The whole of a list is quoted for a list or steps question when its introduction or an item scores this close to
# the best sentence.
LIST_MARGIN = 0.3
# Chunks read after the best one for the subsections of its section (the items of a list of subsections).
FOLLOW_CHUNKS = 6
# Maximal marginal relevance: relevance against similarity to what is already chosen.
MMR_LAMBDA = 0.75
# Two sentences this similar (cosine of their vectors) say the same thing: the second is not quoted.
REDUNDANT = 0.9
# A sentence is at least this share as relevant as the heading of its section is similar to what the question is
# about: under "Severity levels", "SEV2: a major feature is broken ..." answers "Summarize the severity levels"
# though it shares no word with it.
SECTION_WEIGHT = 0.6
# A yes or no needs the best evidence (with the headings it sits under) to hold this much of the question's
# content words, leaving out the words that only ask whether something holds ("ok", "allowed", "valid").
VERDICT_OVERLAP = 0.75
UNSURE = "The documents say:"
# The same leads for a question asked in Chinese.
LEADS_ZH = {"Yes": "是的。", "No": "不是。"}
UNSURE_ZH = "文档中写道："
# A single-fact answer is followed by the evidence sentences around it that score within CONTEXT_MARGIN of the
# best one (at most CONTEXT_SENTENCES): the reasons and circumstances a person asking "when did the U.S. enter
# World War II?" reads on with. Fitted (token F1 against the reference answers) on the odd-numbered answerable
# CLAPNQ questions, checked on the even ones and on Dolly (docs/evaluation.md).
CONTEXT_MARGIN = 0.15
CONTEXT_SENTENCES = 2
# That is for a question for one value (``Question.one_value``). A question about a subject ("What is Watson
# Assistant?", "Virtualization", "Can I have the fees waived?") reads on further: up to OPEN_SENTENCES evidence
# sentences in all, the context scoring within OPEN_CONTEXT_MARGIN of the best. Fitted on MTRAG-UN's follow-ups at odd
# task indexes, where the reference answers are paragraphs (median 91 words; five sentences come to a median of 94),
# checked on the even ones (docs/evaluation.md #15).
OPEN_SENTENCES = 5
OPEN_CONTEXT_MARGIN = 0.25
# The types whose answer reads on (a number's: as a one-value question's); a list, steps, a summary or a comparison
# has a shape of its own.
_READS_ON = frozenset({"fact", "yes_no", "explanation"})
_PREDICATES = frozenset(
    content_words(
        "ok okay fine allowed permitted acceptable possible valid correct right true good bad wrong required "
        "necessary needed mandatory recommended supported safe legal enough"
    )
)

# A line indented under a list item belongs to the item (markdown): an example block or image inside one of
# ChatGLM-6B's limitations does not end the list of them (realq q039).
_INDENTED = re.compile(r"\n(?: {2,}|\t)[ \t]*$")
_BARE_MARKER = re.compile(r"\d{1,3}[.)]|[-*+•]")  # a numbered item's "1." when it is split off as a sentence
_ITEM_PREFIX = re.compile(r"[ \t]*(?:(?P<bullet>[-*+•])|(?P<number>\d{1,3})[.)])[ \t]+(?:\*\*|__)?")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nothing|nobody|neither|nor|cannot|without|forbidden|prohibited|disallowed|avoid)\b"
    r"|n't\b|不|没有|沒有|禁止|无需|無需|勿",
    re.IGNORECASE,
)
# Words that make a statement conditional: "acceptable only with the VPN on" is not a plain yes.
_CONDITION = re.compile(r"\b(?:only|unless|except|if|when|provided|depends|sometimes|usually)\b", re.IGNORECASE)
# A sentence that refers back in its first few words continues the one before it ("Currently, this supports gzip,
# ...", "You can achieve this with the `--sort path` flag").
_CONTINUES = re.compile(
    r"^(?:[\w`'-]+,?\s+){0,3}(?:this|these|those|it|its|they|their|such|both|the latter|the former)\b"
    r"|^(?:in that case|otherwise|each of these|all of these)\b",
    re.IGNORECASE,
)
_HTML_HEADING = re.compile(r"\s*<h[1-6]\b", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>|\]\([^)]*\)|`[^`]*`")
_AUXILIARY = re.compile(
    r"^\s*(?:is|are|am|was|were|do|does|did|can|could|should|would|will|shall|may|might|must|has|have|had)\b\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Part:
    """One sentence of a composed answer: the evidence it quotes, how it is shown, and where."""

    sentence: Sentence
    score: float
    label: str | None = None  # a heading that names the item ("Flexitour"), shown before it
    item: bool = False  # a list item in its source
    numbered: bool = False  # of a numbered list


def list_marker(sentence: Sentence) -> re.Match[str] | None:
    """The list marker ("- ", "2. ") the sentence's line starts with, when the sentence opens a list item."""
    chunk = sentence.chunk
    offset = sentence.start - chunk.start
    line_start = chunk.text.rfind("\n", 0, offset) + 1
    return _ITEM_PREFIX.fullmatch(chunk.text, line_start, offset)


Item = tuple[Sentence, re.Match[str]]
Following = Callable[[RetrievedChunk], "RetrievedChunk | None"]


@dataclass(frozen=True)
class ListRun:
    """A run of consecutive list items in a chunk (short ones too), with the sentence that introduces the list
    when the one right before it ends with a colon; ``open`` when the list runs to the end of the chunk."""

    intro: Sentence | None
    items: list[Item]
    open: bool
    first: bool  # the chunk starts inside this list (no paragraph before its first item)


def _key(sentence: Sentence) -> tuple[str, int]:
    return sentence.chunk.document_id, sentence.start


def list_runs(chunk: RetrievedChunk) -> list[ListRun]:
    """The lists of a chunk, in order."""
    runs: list[ListRun] = []
    previous: Sentence | None = None
    items: list[Item] = []
    intro: Sentence | None = None
    first = False
    sentences = [s for s in split_sentences(chunk, min_words=1) if not _BARE_MARKER.fullmatch(s.text)]
    for s in sentences:
        marker = list_marker(s)
        if marker is not None:
            if not items:
                intro = previous if previous is not None and previous.flat.endswith((":", "：")) else None
                # The chunk starts inside this list when nothing before its first item is a block of its own.
                first = not runs and "\n\n" not in chunk.text[: s.start - chunk.start].strip()
            items.append((s, marker))
        elif (
            items
            and previous is not None
            and "\n" in chunk.text[previous.end - chunk.start : s.start - chunk.start]
            and not _INDENTED.search(chunk.text[: s.start - chunk.start])
        ):
            runs.append(ListRun(intro, items, False, first))  # a new paragraph ends the list, an item's own
            items, intro = [], None  # second sentence does not, nor an indented block inside the item
        previous = s
    if items:
        runs.append(ListRun(intro, items, True, first))
    return runs


def list_of(sentence: Sentence, following: Following | None = None) -> tuple[Sentence | None, list[Item]] | None:
    """The list (introduction and items) that ``sentence`` introduces or is an item of, when it has two items.
    A list that runs to the end of its chunk goes on in the next chunk of the document (``following``)."""
    for run in list_runs(sentence.chunk):
        keys = {_key(s) for s, _ in run.items}
        if _key(sentence) not in keys and (run.intro is None or _key(run.intro) != _key(sentence)):
            continue
        items = run.items
        after = following(sentence.chunk) if following is not None and run.open else None
        if after is not None:
            more = list_runs(after)
            if more and more[0].first and more[0].items[0][0].section == items[-1][0].section:
                last = items[-1][0].start
                items = items + [(s, m) for s, m in more[0].items if s.start > last]
        return (run.intro, items) if len(items) >= 2 else None
    return None


def _same_block(before: Sentence, after: Sentence) -> bool:
    """Whether ``after`` goes on the paragraph or list item ``before`` is in (no blank line, no new item between)."""
    if before.chunk is not after.chunk or after.start < before.end or list_marker(after) is not None:
        return False
    return "\n\n" not in before.chunk.text[before.end - before.chunk.start : after.start - before.chunk.start]


def quotable(sentence: Sentence) -> bool:
    """Whether a sentence can stand in an answer: not a heading (it names a topic, and labels items instead), not
    a question (a FAQ's "How do I search compressed files?"), and words beyond markup."""
    text = _TAG.sub(" ", sentence.text).strip()
    if sentence.heading or _HTML_HEADING.match(sentence.text) or is_question(text):
        return False
    return len(re.findall(r"\w+", text)) >= 3


def _title(section: str | None) -> str:
    return section.rsplit(" > ", 1)[-1] if section else ""


def _next_in_paragraph(ranked: Ranked, i: int) -> int | None:
    """The sentence right after sentence ``i`` in the same paragraph, when the pool has it."""
    j = i + 1
    if j >= len(ranked.sentences):
        return None
    s, t = ranked.sentences[i], ranked.sentences[j]
    if s.chunk is not t.chunk or t.start < s.end:
        return None
    between = s.chunk.text[s.end - s.chunk.start : t.start - s.chunk.start]
    return j if "\n\n" not in between and list_marker(t) is None else None


class Composer:
    """Chooses and orders the sentences of a composed answer from the ranked evidence, and renders it."""

    def __init__(
        self,
        margin: float = MARGIN,
        redundant: float = REDUNDANT,
        mmr_lambda: float = MMR_LAMBDA,
        following: Following | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
    ) -> None:
        self.margin = margin
        self.redundant = redundant
        self.mmr_lambda = mmr_lambda
        self.following = following  # the chunk after a given one in its document (None: lists end with the chunk)
        self.embed = embed  # unit vectors of texts, to compare headings with the question (None: by shared words)

    # --- choosing -----------------------------------------------------------------------------------------------

    def choose(self, question: Question, ranked: Ranked) -> list[Part]:
        """The sentences of the answer, in the order they are shown."""
        shape = question.shape
        if not ranked.sentences:
            return []
        relevance = self.relevance(question, ranked)
        candidates = [i for i, s in enumerate(ranked.sentences) if quotable(s)] or list(range(len(ranked.sentences)))
        order = sorted(candidates, key=lambda i: -float(relevance[i]))
        best = float(relevance[order[0]])
        chosen: list[int] = [order[0]]
        if question.type == "comparison":
            chosen += self._other_sides(question, ranked, order, relevance, best)
        pool = [i for i in order if relevance[i] >= best - self.margin and i not in chosen]
        while pool and len(chosen) < shape.sentences:
            pick = max(pool, key=lambda i: self._mmr(relevance, ranked, i, chosen))
            pool.remove(pick)
            if self._similarity(ranked, pick, chosen) < self.redundant:
                chosen.append(pick)
        if question.type == "steps":
            chosen = self._whole_section(ranked, order, chosen, shape.sentences)
        chosen = self._with_continuations(ranked, chosen)
        parts = [Part(ranked.sentences[i], float(ranked.scores[i])) for i in chosen]
        if shape.as_list:
            reach = LIST_MARGIN if question.type in ("list", "steps") else 0.0  # a summary: the best one's list only
            parts = self._whole_list(parts, ranked, relevance, best - reach, shape.sentences)
        if shape.document_order:
            parts = self._in_document_order(parts)
        return parts

    @staticmethod
    def _whole_section(ranked: Ranked, order: list[int], chosen: list[int], limit: int) -> list[int]:
        """Steps written as paragraphs of one section ("How to use"): when most chosen sentences come from one
        section, the section's other sentences too, up to ``limit``."""
        sections = [ranked.sentences[i].section for i in chosen]
        top = max(set(sections), key=sections.count)
        if top is None or sections.count(top) < max(3, len(chosen) // 2 + 1):
            return chosen
        rest = [i for i in order if i not in chosen and ranked.sentences[i].section == top]
        return chosen + rest[: max(0, limit - len(chosen))]

    def relevance(self, question: Question, ranked: Ranked) -> np.ndarray:
        """Each sentence's score, raised to what its section's heading earns (``SECTION_WEIGHT`` times the heading's
        similarity to the question's topic): what a composed answer is chosen by, and what the evidence floor
        compares for one."""
        if not ranked.sentences:
            return ranked.scores
        titles = [_title(s.section) for s in ranked.sentences]
        if self.embed is None:  # no embedder: the share of the topic's words the heading holds
            asked = content_words(topic(question.text))
            similarity = {t: len(asked & content_words(t)) / max(len(asked), 1) for t in set(titles)}
        else:
            named = sorted({t for t in titles if t})
            vectors = self.embed([topic(question.text), *named]) if named else np.zeros((1, 1), dtype=np.float32)
            similarity = {t: float(v @ vectors[0]) for t, v in zip(named, vectors[1:], strict=True)}
        # Numbers tell sections apart where words do not ("Aurora 3.2" and "Aurora 3.0"): a heading that holds a
        # number the question names is its topic; one that holds only other numbers is not.
        asked_numbers = numbers(question.text)
        if asked_numbers:
            for t in similarity:
                held = numbers(t)
                if held:
                    similarity[t] = 1.0 if held & asked_numbers else 0.0
        lift = np.array([SECTION_WEIGHT * similarity.get(t, 0.0) if t else 0.0 for t in titles], dtype=np.float32)
        return np.maximum(ranked.scores, lift)

    @staticmethod
    def _with_continuations(ranked: Ranked, chosen: list[int]) -> list[int]:
        """Each chosen sentence followed by the sentences of its paragraph that continue it ("This ...")."""
        out: list[int] = []
        for i in chosen:
            if i in out:
                continue
            out.append(i)
            j = _next_in_paragraph(ranked, i)
            while j is not None and j not in out:
                text = ranked.sentences[j].text
                if _CONTINUES.match(text):
                    out.append(j)
                elif not text.startswith("("):  # an aside in brackets is passed over, not quoted
                    break
                j = _next_in_paragraph(ranked, j)
        return out

    def _mmr(self, relevance: np.ndarray, ranked: Ranked, i: int, chosen: list[int]) -> float:
        return self.mmr_lambda * float(relevance[i]) - (1 - self.mmr_lambda) * self._similarity(ranked, i, chosen)

    @staticmethod
    def _similarity(ranked: Ranked, i: int, chosen: list[int]) -> float:
        return max(float(ranked.vectors[i] @ ranked.vectors[j]) for j in chosen) if chosen else 0.0

    def _other_sides(
        self, question: Question, ranked: Ranked, order: list[int], relevance: np.ndarray, best: float
    ) -> list[int]:
        """For a comparison, the best sentence on each compared thing that the best sentence does not cover (in
        its words or its section's heading); when the question names none, the best sentence of a second
        document."""
        if not question.compared:
            eligible = [i for i in order if relevance[i] >= best - WIDE_MARGIN]
            first = ranked.sentences[order[0]].chunk.document_id
            other = next((i for i in eligible if ranked.sentences[i].chunk.document_id != first), None)
            return [other] if other is not None else []
        # The question names what it compares. A section headed by the thing describes it first, so its opening
        # sentences are quoted; otherwise the best sentences that name it, however they score against the whole.
        # What both sides' sections say alike ("You are scheduled to arrive ...") tells them apart in nothing.
        sides: list[list[int]] = []
        for thing in question.compared:
            words = content_words(thing)
            headed = sorted(
                (i for i in order if words and words <= content_words(_title(ranked.sentences[i].section))),
                key=lambda i: (ranked.sentences[i].chunk.document_id, ranked.sentences[i].start),
            )

            def mentions(i: int, words: set[str] = words) -> bool:
                s = ranked.sentences[i]
                return len(words & content_words(f"{_title(s.section)} {s.text}")) * 2 >= len(words) + 1

            sides.append(headed or [i for i in order if words and mentions(i)])
        texts = [{ranked.sentences[i].flat for i in side} for side in sides]
        added: list[int] = []
        for n, side in enumerate(sides):
            common = set().union(*(t for m, t in enumerate(texts) if m != n))
            have = sum(i in side for i in [order[0], *added])
            for i in side:
                if have >= SIDE_SENTENCES:
                    break
                if i not in added and i != order[0] and ranked.sentences[i].flat not in common:
                    added.append(i)
                    have += 1
        return added

    def _whole_list(
        self, parts: list[Part], ranked: Ranked, relevance: np.ndarray, floor: float, limit: int
    ) -> list[Part]:
        """When the best sentence, or a sentence of its document scoring above ``floor``, introduces a list or is an
        item of one, the whole list: its introduction and its items (from the chunk itself: short items are not
        evidence sentences); else, when the best sentence heads a section with subsections, one sentence of each."""
        known = {_key(s): float(ranked.scores[i]) for i, s in enumerate(ranked.sentences)}
        document = parts[0].sentence.chunk.document_id
        near = [
            ranked.sentences[i]
            for i in np.argsort(-relevance, kind="stable")
            if relevance[i] >= floor and quotable(ranked.sentences[i])
        ]
        heads = [s for s in [parts[0].sentence, *near] if s.chunk.document_id == document]
        for head in heads:
            found = list_of(head, self.following)
            if found is None:
                continue
            intro, items = found
            listed = [
                Part(s, known.get(_key(s), parts[0].score), item=True, numbered=bool(m.group("number")))
                for s, m in items[:limit]
            ]
            if intro is not None:
                listed.insert(0, Part(intro, known.get(_key(intro), parts[0].score)))
            keys = {_key(p.sentence) for p in listed}
            section = items[0][0].section  # other sentences only from the list's own section
            rest = [p for p in parts if _key(p.sentence) not in keys and p.sentence.section == section]
            return [*listed, *rest][: len(listed) + 2]
        children = self._subsections(parts[0].sentence, ranked)
        if len(children) >= 2:
            keys = {_key(p.sentence) for p in children}
            return [parts[0], *children, *(p for p in parts[1:] if _key(p.sentence) not in keys)][:limit]
        return parts

    def _subsections(self, head: Sentence, ranked: Ranked) -> list[Part]:
        """The first sentence of each subsection of the section ``head`` is in ("Types of flexible schedules" >
        "Flexitour", "Gliding", ...), labelled by the subsection's heading; the chunks after ``head``'s are read
        while they stay in the section (up to ``FOLLOW_CHUNKS``), since its subsections rarely fit one chunk."""
        if not head.section:
            return []
        prefix = head.section + " > "
        known = {_key(s): float(ranked.scores[i]) for i, s in enumerate(ranked.sentences)}
        sentences = list(ranked.sentences)
        chunk: RetrievedChunk | None = head.chunk
        for _ in range(FOLLOW_CHUNKS):
            chunk = self.following(chunk) if self.following is not None and chunk is not None else None
            if chunk is None or not (chunk.heading or "").startswith(prefix):
                break
            sentences += split_sentences(chunk)
        first: dict[str, Sentence] = {}
        for s in sorted(sentences, key=lambda s: s.start):
            if s.chunk.document_id == head.chunk.document_id and s.section and s.section.startswith(prefix):
                child = s.section[len(prefix) :].split(" > ")[0]
                if child not in first and quotable(s):
                    first[child] = s
        return [Part(s, known.get(_key(s), 0.0), label=child) for child, s in first.items()]

    @staticmethod
    def _in_document_order(parts: list[Part]) -> list[Part]:
        """Documents in the order their first sentence is chosen; within one, the document's own order."""
        rank: dict[str, int] = {}
        for p in parts:
            rank.setdefault(p.sentence.chunk.document_id, len(rank))
        return sorted(parts, key=lambda p: (rank[p.sentence.chunk.document_id], p.sentence.start))

    # --- rendering ----------------------------------------------------------------------------------------------

    def compose(self, question: Question, ranked: Ranked) -> Verified:
        """The composed answer: the chosen sentences, each quoted and cited [1].. in the order they appear."""
        parts = self.choose(question, ranked)
        cited: list[Evidence] = []
        markers: dict[tuple[str, int], int] = {}
        sentences: list[SentenceSupport] = []
        lines: list[str] = []
        several_sections = len({p.sentence.section for p in parts}) > 1
        for part in parts:
            key = _key(part.sentence)
            if key not in markers:
                markers[key] = len(markers) + 1
                cited.append(Evidence(part.sentence, part.score, markers[key]))
            marker = markers[key]
            text = readable(part.sentence.flat)
            if part.label and part.label.lower() not in text.lower():
                text = f"{part.label}: {text}"
            elif part.label is None and several_sections:  # bullets of two releases: each with its version
                text = with_heading(part.sentence, text)
            sentences.append(SentenceSupport(text=text, supported=True, support=1.0, citations=[marker]))
            lines.append(f"{text} [{marker}]")
        if question.type == "yes_no" and parts:
            verdict = yes_or_no(question, parts[0].sentence)
            if detect(question.text) == "zh":  # no English frame around Chinese quotes
                lead = LEADS_ZH[verdict] if verdict else UNSURE_ZH
            else:
                lead = f"{verdict}." if verdict else UNSURE
            if verdict and not re.match(rf"{verdict}\b", parts[0].sentence.flat, re.IGNORECASE):
                sentences.insert(0, SentenceSupport(text=lead, supported=True, support=1.0, citations=[1]))
                lines[0] = f"{lead} {lines[0]}"
            elif not verdict:
                lines[0] = f"{lead} {lines[0]}"
        return Verified(self._layout(question, parts, lines), "composed", cited, sentences, [])

    def with_context(
        self,
        verified: Verified,
        ranked: Ranked,
        margin: float = CONTEXT_MARGIN,
        limit: int = CONTEXT_SENTENCES,
    ) -> tuple[Verified, str]:
        """A single-fact answer (the model's supported sentences, or the best sentence quoted) followed by the
        evidence sentences that score nearly as well as the best one, each quoted and cited on its own, in the
        documents' order; and the text added (empty when nothing is). Nothing is added to an abstention or to an
        answer whose evidence is not in ``ranked``."""
        if not verified.cited or not ranked.sentences or limit <= 0:
            return verified, ""
        index = {_key(s): i for i, s in enumerate(ranked.sentences)}
        cited = [index[_key(e.sentence)] for e in verified.cited if _key(e.sentence) in index]
        if not cited:
            return verified, ""
        best = float(ranked.scores.max())
        order = [int(i) for i in np.argsort(-ranked.scores, kind="stable")]
        # A table row answers for its own record: the rows around it are other records (other cities), not context.
        from_table = any(is_table_row(ranked.sentences[i]) for i in cited)
        added: list[int] = []
        for i in order:
            if len(added) >= limit or ranked.scores[i] < best - margin:
                break
            if i in cited or not quotable(ranked.sentences[i]) or (from_table and is_table_row(ranked.sentences[i])):
                continue
            if self._similarity(ranked, i, cited + added) < self.redundant:
                added.append(i)
        added = [i for i in self._with_continuations(ranked, cited + added) if i not in cited][:limit]
        if not added:
            return verified, ""
        added.sort(key=lambda i: _key(ranked.sentences[i]))
        number = max(e.number for e in verified.cited)
        evidence = list(verified.cited)
        sentences = list(verified.sentences)
        lines: list[str] = []
        for i in added:
            number += 1
            sentence = ranked.sentences[i]
            evidence.append(Evidence(sentence, float(ranked.scores[i]), number))
            text = with_heading(sentence, readable(sentence.flat))
            sentences.append(SentenceSupport(text=text, supported=True, support=1.0, citations=[number]))
            lines.append(f"{text} [{number}]")
        extra = " ".join(lines)
        answer = f"{verified.answer} {extra}"
        return Verified(answer, verified.answer_type, evidence, sentences, verified.removed), f" {extra}"

    @staticmethod
    def _layout(question: Question, parts: Sequence[Part], lines: list[str]) -> str:
        """Prose, or a list when the answer quotes a list's items: "- item" (steps: "1. item") on lines of their
        own, after the sentence that introduces them."""
        listed = question.shape.as_list and sum(p.item or p.label is not None for p in parts) >= 2
        if not listed:
            return " ".join(lines)
        out: list[str] = []
        number = 0
        in_list = False
        previous: Part | None = None
        for part, line in zip(parts, lines, strict=True):
            if in_list and previous is not None and _same_block(previous.sentence, part.sentence):
                out[-1] = f"{out[-1]} {line}"  # the item's own second sentence
            elif part.item or part.label is not None:
                number += 1
                numbered = question.type == "steps" or part.numbered
                out.append(f"{number}. {line}" if numbered else f"- {line}")
                in_list = True
            elif out and not in_list:
                out[-1] = f"{out[-1]} {line}"  # prose continues its paragraph
            else:
                out.append(line)
                in_list = False
            previous = part
        return "\n".join(out)


def context_for(question: Question) -> tuple[float, int]:
    """How far the evidence after an answer reaches (``Composer.with_context``'s margin and limit): a little for one
    value, up to ``OPEN_SENTENCES`` in all for a question about a subject, none for a shape of its own."""
    if question.type not in _READS_ON and question.type != "number":
        return 0.0, 0
    if question.one_value:
        return CONTEXT_MARGIN, CONTEXT_SENTENCES
    return OPEN_CONTEXT_MARGIN, max(0, OPEN_SENTENCES - question.shape.sentences)


def yes_or_no(question: Question, evidence: Sentence) -> str | None:
    """ "Yes" or "No" when the best evidence settles the question, None when it does not clearly: it must share
    most of the question's words, and a "Yes" must be unconditional. A question that offers alternatives ("A or
    B?") gets no verdict."""
    asked = _AUXILIARY.sub("", question.text)
    if re.search(r"\bor\b|还是|還是", asked, re.IGNORECASE):
        return None
    words = content_words(asked) - _PREDICATES
    found = content_words(f"{evidence.section or ''} {evidence.text}")
    if not words or len(words & found) / len(words) < VERDICT_OVERLAP:
        return None
    negated = bool(_NEGATION.search(evidence.text)) != bool(_NEGATION.search(asked))
    if negated:
        return "No"
    return None if _CONDITION.search(evidence.text) else "Yes"
