"""The answer path for a capable model: the relevant chunks whole, an answer of several cited sentences, each
sentence verified.

A model of half a billion parameters and more (rag/models/profile.py) can read whole chunks and write an answer of
the shape the question needs: steps, a list, a summary over several chunks, a yes or no with its reason. Capping it
at one sentence from three evidence sentences, as the small model's path does, throws that away. So here:

1. prompt: the chunks, best first, numbered [1]..[k] with their source and heading path, and instructions to
   answer in several sentences or a list as the question needs, to cite each sentence with [n], and to say so when
   the sources do not answer; the lowest-ranked chunks are dropped until it fits the profile's budget and the
   model's window;
2. verify: every sentence of the draft is checked against the sentences of the chunks it was shown, with the
   evidence path's rule (``check_support``: one sentence holds all its numbers and most of its words). The chunk
   the model cited is tried first, then every chunk. Supported sentences are kept and cited to the sentence that
   backs them; the others are removed. A list stays a list. When nothing is supported, the caller falls back to
   the evidence path's answer, or abstains when the model said the sources do not answer (``is_refusal``).

Verification stays necessary with a capable model: asked what the documents do not say, the 0.5B model invents an
answer (../shared/PLATFORM.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from rag.evidence import Evidence
from rag.models.families import PromptFamily
from rag.models.ports import LanguageModel
from rag.models.profile import ModelProfile
from rag.prompt import ContextOverflow
from rag.question import QuestionType, classify
from rag.text import content_words, split_sentences
from rag.types import ChunkRecord, RetrievedChunk, SentenceSupport
from rag.verification import Support, Verified, check_support, strip_invalid_markers

REFUSAL = "The sources do not say."

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources. Copy names, numbers and dates exactly as the sources "
    "give them, and after each sentence or list item put the number of its source, like [1]. "
    f"If the sources do not answer the question, reply only: {REFUSAL}"
)

# What the answer should look like, by what the question asks for (rag/question.py). Said after the question, where
# a small model heeds it best.
GUIDANCE: dict[QuestionType, str] = {
    "fact": "Answer in one or two sentences.",
    "number": "Answer in one or two sentences, with the number exactly as the sources give it.",
    "list": "List every item the sources give, each on its own line starting with '- '.",
    "steps": "Say what to do step by step, in the order the sources give, each step on its own line starting with "
    "'- '.",
    "summary": "Summarize in a few sentences, drawing on every source that is relevant.",
    "comparison": "Say what each one is, one sentence each, then how they differ.",
    "yes_no": "Start with Yes or No, then give the reason from the sources.",
    "explanation": "Explain in two or three sentences.",
}

# The model's markers: [1], [1, 2], [1][2].
_MARKERS = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# A sentence ends at . ! ? (and the markers right after it) before white space and a capital, digit or quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])*)\s+(?=[\"'“(A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
_YES_NO = re.compile(r"^(yes|no)\b[,.!;:]?\s*", re.IGNORECASE)
_REFUSALS = re.compile(
    r"\b(?:sources?|documents?|context|texts?|passages?|information)\b[^.]{0,40}\b(?:do(?:es)?|did)\s*(?:not|n't)\s+"
    r"(?:say|state|mention|contain|provide|include|specify|answer|give)"
    r"|\b(?:cannot|can't|can ?not|unable to)\s+(?:be\s+)?(?:answer|determine|find|tell)"
    r"|\bno (?:information|mention)\b|\bnot (?:mentioned|specified|stated) in\b",
    re.IGNORECASE,
)


def is_refusal(draft: str) -> bool:
    """Whether the model said that the sources do not answer (in the prompt's words or its own)."""
    return bool(_REFUSALS.search(draft))


# --- the prompt ----------------------------------------------------------------------------------------------------


def chunk_label(chunk: RetrievedChunk) -> str:
    """The source's file name and the chunk's heading path: what a reader (and the model) needs to place it."""
    label = PurePath(chunk.source).name or chunk.source
    if chunk.page is not None:
        label += f", page {chunk.page}"
    return f"{label} > {chunk.heading}" if chunk.heading else label


def render_chunks(chunks: Sequence[RetrievedChunk]) -> str:
    """Each chunk after its number, then in parentheses where it is from: a label line before the text was copied
    into answers as if it were a list item."""
    return "\n\n".join(f"[{n}] {c.text.strip()}\n(from {chunk_label(c)})" for n, c in enumerate(chunks, start=1))


def build_chunk_prompt(family: PromptFamily, question: str, chunks: Sequence[RetrievedChunk]) -> str:
    """The chunks, the question, and what the answer should look like for this type of question."""
    guidance = GUIDANCE[classify(question).type]
    user = f"Sources:\n\n{render_chunks(chunks)}\n\nQuestion: {question.strip()}\n\n{guidance}"
    return family.format(user=user, system=SYSTEM_PROMPT)


@dataclass(frozen=True)
class ChunkPrompt:
    """The prompt and the chunks it shows, numbered from 1 in this order; ``trimmed`` the chunk ids left out."""

    prompt: str
    chunks: list[RetrievedChunk]
    trimmed: list[str]


def fit_chunks(
    llm: LanguageModel, profile: ModelProfile, question: str, chunks: Sequence[RetrievedChunk], max_new_tokens: int
) -> ChunkPrompt:
    """At most ``profile.max_chunks`` chunks, best first; the lowest-ranked dropped until the prompt fits both the
    profile's budget and the model's window with room for the answer."""
    budget = min(profile.max_prompt_tokens, llm.context_window - max_new_tokens)
    kept = list(chunks[: profile.max_chunks])
    prompt = build_chunk_prompt(llm.family, question, kept)
    while len(kept) > 1 and llm.count_tokens(prompt) > budget:
        kept.pop()
        prompt = build_chunk_prompt(llm.family, question, kept)
    if llm.count_tokens(prompt) > llm.context_window - max_new_tokens:
        raise ContextOverflow(
            f"the question and its best chunk need more than the model's {llm.context_window} tokens with "
            f"max_new_tokens={max_new_tokens}; ask a shorter question or lower max_new_tokens"
        )
    trimmed = [c.chunk_id for c in chunks if c not in kept]
    return ChunkPrompt(prompt, kept, list(dict.fromkeys(trimmed)))


def with_following(
    chunks: Sequence[RetrievedChunk], fetch: Callable[[list[str]], list[ChunkRecord]], count: int
) -> list[RetrievedChunk]:
    """The retrieved chunks with the ``count`` chunks that follow the best one in its document right after it (those
    retrieved anyway move up): a list, the steps of a procedure or the parts of a summary often run on past the
    chunk that matched the question. A following chunk takes the best one's score and rank. ``fetch`` reads chunks
    by id (``ChunkStore.get``); ids are ``document:version:index`` (ingest/indexer.py)."""
    if not chunks or count <= 0:
        return list(chunks)
    best = chunks[0]
    ids = [f"{best.document_id}:{best.version}:{best.chunk_index + i}" for i in range(1, count + 1)]
    retrieved = {c.chunk_id: c for c in chunks}
    missing = [i for i in ids if i not in retrieved]
    fetched = {r.chunk_id: r for r in fetch(missing)} if missing else {}
    following = [
        retrieved.get(i)
        or RetrievedChunk(**fetched[i].model_dump(), score=best.score, fusion_score=best.fusion_score, rank=best.rank)
        for i in ids
        if i in retrieved or i in fetched
    ]
    placed = {c.chunk_id for c in following}
    return [best, *following, *(c for c in chunks[1:] if c.chunk_id not in placed)]


class GenerativeAnswerer:
    """The generative path's two steps around the model: the prompt (``prompt``) and the verified answer from the
    model's draft (``verify``; None when nothing in it is supported, see ``is_refusal``). ``fetch`` reads chunks by
    id for the chunks that follow the best one (None: only the retrieved chunks)."""

    def __init__(
        self,
        llm: LanguageModel,
        profile: ModelProfile,
        fetch: Callable[[list[str]], list[ChunkRecord]] | None = None,
    ) -> None:
        self.llm = llm
        self.profile = profile
        self.fetch = fetch

    def prompt(self, question: str, chunks: Sequence[RetrievedChunk], max_new_tokens: int) -> ChunkPrompt:
        if self.fetch is not None:
            chunks = with_following(chunks, self.fetch, self.profile.following_chunks)
        return fit_chunks(self.llm, self.profile, question, chunks, max_new_tokens)

    def verify(self, question: str, draft: str, prompt: ChunkPrompt) -> Verified | None:
        return verify_generated(question, draft, prompt.chunks)


# --- verification --------------------------------------------------------------------------------------------------


def chunk_evidence(chunks: Sequence[RetrievedChunk]) -> list[Evidence]:
    """Every sentence of the chunks (short list items too, boilerplate not), numbered by its chunk's marker and
    scored by its chunk."""
    evidence: list[Evidence] = []
    for n, chunk in enumerate(chunks, start=1):
        sentences = split_sentences(chunk, min_words=1)
        evidence.extend(Evidence(s, chunk.score, n) for s in sentences if not s.boilerplate)
    return evidence


def in_context(evidence: Evidence) -> Evidence:
    """The sentence as verification reads it: after its heading path and the sentence that introduces its list
    (or its table's header), so that "100 characters" under "Column limit:" backs "The column limit is 100
    characters". The citation still quotes the sentence alone."""
    context = evidence.sentence.context
    if not context:
        return evidence
    return replace(evidence, sentence=replace(evidence.sentence, text=f"{context}: {evidence.sentence.text}"))


@dataclass(frozen=True)
class DraftSentence:
    text: str  # without markers, bullet or leading yes/no
    markers: frozenset[int]  # the chunks the model cited
    line: int  # the draft's line it is on
    item: str  # that line is a list item: "-" for a bullet, "1." for a numbered step; "" when it is not
    lead: str  # "Yes," / "No." kept in front of the sentence, or ""


def draft_sentences(draft: str) -> list[DraftSentence]:
    """The draft's sentences with the markers the model put on each (those after its full stop included), list
    items marked; pieces without a word are dropped."""
    out: list[DraftSentence] = []
    for number, line in enumerate(draft.splitlines()):
        bullet = _BULLET.match(line)
        body = line[bullet.end() :] if bullet else line
        position = 0
        for match in [*_SENTENCE_END.finditer(body), None]:
            piece = body[position : match.end(1) if match else len(body)]
            position = match.end() if match else len(body)
            markers = frozenset(int(n) for group in _MARKERS.findall(piece) for n in re.split(r"[,;]", group))
            text = strip_invalid_markers(piece, set())
            yes_no = _YES_NO.match(text) if not out else None  # only the first sentence answers a yes/no question
            lead = ""
            if yes_no:
                lead = yes_no.group(1).capitalize() + ("," if text[yes_no.end(1) :].startswith(",") else ".")
                text = text[yes_no.end() :]
            if re.search(r"\w", text) or lead:
                kind = ("1." if bullet.group().strip()[0].isdigit() else "-") if bullet else ""
                out.append(DraftSentence(text.strip(), markers, number, kind, lead))
    return out


def _support(sentence: DraftSentence, evidence: Sequence[Evidence], question: str) -> Support:
    """The evidence path's rule, in the chunks the model cited first, then in all of them."""
    cited = [e for e in evidence if e.number in sentence.markers]
    if cited:
        support = check_support(sentence.text, cited, question)
        if support.supported:
            return support
    return check_support(sentence.text, evidence, question)


def verify_generated(question: str, draft: str, chunks: Sequence[RetrievedChunk]) -> Verified | None:
    """Keep the draft's supported sentences, each cited to the sentence that backs it, numbered [1].. in the order
    the answer first cites them; None when no sentence is supported. List items stay on lines of their own; a
    leading Yes or No is kept when the sentence it belongs to is supported."""
    evidence = chunk_evidence(chunks)
    if not evidence:
        return None
    read = [in_context(e) for e in evidence]
    original = {id(r): e for r, e in zip(read, evidence, strict=True)}
    markers: dict[int, int] = {}  # id of the supporting Evidence -> its marker in the answer
    cited: list[Evidence] = []
    kept: list[SentenceSupport] = []
    removed: list[SentenceSupport] = []
    lines: list[tuple[int, str, str]] = []  # (draft line, list item kind, rendered text)
    numbered = 0  # numbered steps kept so far in the current list: steps are renumbered over the kept ones
    seen: set[frozenset[str]] = set()
    pending_lead = ""
    for sentence in draft_sentences(draft):
        if not sentence.text:  # a bare "Yes." / "No." stands or falls with the sentence after it
            pending_lead = sentence.lead
            continue
        lead, pending_lead = sentence.lead or pending_lead, ""
        support = _support(sentence, read, question)
        coverage = round(support.word_coverage, 3)
        if not support.supported or support.evidence is None:
            shown = f"{lead} {sentence.text}".strip()
            removed.append(SentenceSupport(text=shown, supported=False, support=coverage, citations=[]))
            continue
        words = frozenset(content_words(sentence.text))
        if words in seen:  # a small model may repeat itself
            continue
        seen.add(words)
        backing = original[id(support.evidence)]
        if id(backing) not in markers:
            markers[id(backing)] = len(markers) + 1
            cited.append(Evidence(backing.sentence, backing.score, len(markers)))
        marker = markers[id(backing)]
        text = f"{lead} {_capitalised(sentence.text) if lead.endswith('.') else sentence.text}".strip()
        kept.append(SentenceSupport(text=text, supported=True, support=coverage, citations=[marker]))
        rendered = f"{text} [{marker}]"
        if lines and lines[-1][0] == sentence.line:  # the same line of the draft: the same item or paragraph
            lines[-1] = (sentence.line, sentence.item, f"{lines[-1][2]} {rendered}")
        elif lines and not sentence.item and not lines[-1][1]:  # prose continues its paragraph
            lines[-1] = (sentence.line, "", f"{lines[-1][2]} {rendered}")
        else:
            numbered = numbered + 1 if sentence.item == "1." else 0
            bullet = f"{numbered}. " if sentence.item == "1." else "- " if sentence.item else ""
            lines.append((sentence.line, sentence.item, bullet + rendered))
    if not kept:
        return None
    return Verified("\n".join(text for _, _, text in lines), "generated", cited, kept, removed)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
