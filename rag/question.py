"""What a question asks for, and so what shape its answer takes.

A question for one fact ("How many hours ...?") is answered well by one sentence; a question for a list, the steps
of a procedure, a summary, a comparison, a yes or no, or an explanation is not: scored on realistic questions
(../shared/evaldata/realq-dev), one quoted sentence recovered 0.19 of the facts a list needed and 0.05 of a
procedure's. So before answering, the question is classified by its wording (rules, English and Chinese cues:
no model to train, and the cues are few and plain), and the type decides the answer's shape: how many evidence
sentences it may draw on, whether they keep the documents' order, whether a list is shown as a list.

The order of the checks matters where cues overlap: a summary or comparison cue wins over the wording of a
yes/no question ("Can you summarize ...?"), and a procedure's "how do I" over an explanation's "how".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

QuestionType = Literal["fact", "number", "list", "steps", "summary", "comparison", "yes_no", "explanation"]


@dataclass(frozen=True)
class Shape:
    """How an answer to one type of question is built from evidence sentences."""

    sentences: int  # the most evidence sentences the answer quotes (1: the single-fact path)
    document_order: bool  # quote them in the order the documents give them (steps, list items), not by relevance
    as_list: bool  # show them as a list when the source is one
    composed: bool  # several sentences composed from evidence; False: one fact, phrased by the model


SHAPES: dict[QuestionType, Shape] = {
    "fact": Shape(1, False, False, False),
    "number": Shape(1, False, False, False),
    "list": Shape(10, True, True, True),
    "steps": Shape(12, True, True, True),
    "summary": Shape(6, True, True, True),
    "comparison": Shape(4, True, False, True),
    "yes_no": Shape(2, False, False, True),
    "explanation": Shape(3, False, False, True),
}


@dataclass(frozen=True)
class Question:
    """A question, what it asks for, and for a comparison the things compared (as written in the question)."""

    text: str  # what is asked: the question less how its answer should be laid out (``content``)
    type: QuestionType
    compared: tuple[str, ...] = ()

    @property
    def shape(self) -> Shape:
        return SHAPES[self.type]

    @property
    def one_value(self) -> bool:
        """Whether the question asks for one value ("When did it take place?", "How many pages?") rather than about
        a subject ("What is Watson Assistant?", "Virtualization"): how far its answer reads on (rag/composition.py
        ``context_for``)."""
        return self.type == "number" or bool(_ONE_VALUE.search(_normalized(self.text)))


def _cues(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


_SUMMARY = _cues(
    r"\bsummar(?:y|ies|ize|ise|ized|ised|izing|ising)\b",
    r"\boverview\b",
    r"\bin (?:short|brief|a nutshell)\b",
    r"\bbriefly\b",
    r"\btl;?dr\b",
    r"\b(?:main|key) (?:points|ideas|takeaways|rules|changes)\b",
    r"\bgist\b",
    r"^\s*(?:please\s+)?(?:describe|outline)\b",
    r"\bwhat (?:is|are) (?:\w+\s){1,6}about\s*\??$",
    r"\bgive me (?:a|an) (?:summary|overview|rundown)\b",
    r"总结|概括|概述|简述|总的来说|主要内容|归纳|簡述|總結",
)
_COMPARISON = _cues(
    r"\bcompar(?:e|ed|es|ing|ison)\b",
    r"\bdifferen(?:ce|ces|t) (?:between|from|than)\b",
    r"\bdiffer(?:s)?\b",
    r"\bhow (?:is|are|does|do) .+ (?:different|similar)\b",
    r"\b(?:versus|vs\.?)\s",
    r"\bsimilarit(?:y|ies)\b",
    r"\bcontrast\b",
    r"\b(?:better|worse|faster|slower|cheaper) than\b",
    r"\bwhich (?:one |is |are )?(?:better|faster|preferred)\b",
    r"\bmap (?:onto|to)\b",
    r"\bcorrespond(?:s)? to\b",
    r"\brelationship between\b",
    r"相比|比较|比較|对比|對比|区别|區別|不同|差异|差異|异同|改进|改進",
)
_STEPS = _cues(
    r"^\s*how (?:do|can|should|would|could|shall|must) (?:i|we|you|one)\b(?! know\b| tell\b)",
    r"\bhow to\b",
    r"\b(?:what|which) (?:are )?(?:the )?steps\b",
    r"\bsteps (?:to|for|of|in|needed|required)\b",
    r"\bstep[- ]by[- ]step\b",
    r"\bprocedure\b",
    r"\bprocess (?:for|of|to)\b",
    r"\binstructions?\b",
    r"\bwhat (?:should|do|must) (?:i|we) do\b",
    r"\bwhat do i need to do\b",
    r"\bwalk me through\b",
    r"怎么|怎样|怎麼|怎樣|如何|步骤|步驟|流程|操作",
)
# Nouns that name a collection when a question asks for them in the plural ("What are the password requirements").
_COLLECTIONS = (
    r"types|kinds|sorts|categories|options|choices|alternatives|sections|parts|rules|requirements|steps|features|"
    r"formats|levels|stages|phases|components|elements|benefits|advantages|disadvantages|drawbacks|limitations|"
    r"differences|reasons|ways|methods|examples|items|fields|commands|flags|settings|exceptions|conditions|criteria|"
    r"responsibilities|duties|roles|policies|guidelines|principles|tools|languages|fees|costs|services|platforms|"
    r"dependencies|prerequisites|restrictions|limits|changes|improvements|risks|symptoms|tasks|members|documents"
)
_LIST = _cues(
    r"(?:^|[,.:;]\s*)(?:please\s+)?(?:list|enumerate|name (?:all|the|every|each|some))\b",
    r"\blist (?:of|all|the|every)\b",
    rf"\b(?:what|which) (?:are|were) (?:the |my |our |your |all )?(?:[\w-]+ ){{0,3}}(?:{_COLLECTIONS})\b",
    rf"\b(?:what|which) (?:[\w-]+ ){{0,2}}(?:{_COLLECTIONS}) (?:of|are|were|do|does|did|can|go|should|must|will)\b",
    r"\bwhat are (?:my|our|your|the) options\b",
    r"\bwhich (?:[\w-]+ ){0,3}\w+(?<![sui])s (?:can|could|should|must|do|does|will|may) \w+",
    r"\bin what order\b",
    r"\bwhat (?:is |has )?(?:changed|new)\b",
    r"\bwhat (?:are|were) the (?:changes|new features)\b",
    r"\ball (?:the )?(?:[\w-]+ ){0,2}\w+(?<![sui])s (?:that|which|who)\b",
    r"\b(?:what|which) (?:are|were) (?:some|a few|several|the (?:different|various|main)|different|various)\b",
    r"\b(?:what|which) (?:are|were) the (?:\d+|two|three|four|five|six|seven|eight|nine|ten)\b",
    r"(?:^\s*|[,.:;]\s*|\b(?:passage|paragraph|text|article)\s+)(?:please\s+)?"
    r"(?:name|extract|identify|give me|provide)\s+(?:some|all|a few|several|each|every|the|any)?"
    r"\s*(?:of the\s+)?(?:[\w-]+ ){0,3}\w+(?<![sui])s\b",
    r"\b(?:bullet(?:ed)?|numbered|comma[- ]separated|comma[- ]delimited) list\b|\busing bullets\b",
    r"\bseparated? (?:them |each )?(?:with|by) (?:a )?(?:commas?|semicolons?|new ?lines?)\b",
    r"哪些|有什么|有哪|列出|列举|列舉|几种|幾種",
)
_EXPLANATION = _cues(
    r"^\s*why\b",
    r"\bwhy (?:is|are|do|does|did|was|were|should|would|can|must)\b",
    r"\bhow come\b",
    r"\bexplain\b",
    r"\bwhat (?:is|are) the (?:reason|reasons|purpose|point|rationale|benefit|benefits)\b",
    r"\bwhat happens (?:when|if)\b",
    r"\bwhat does .+ mean\b",
    r"为什么|為什麼|为何|為何|原因|解释|解釋|好处|好處|意义|意義",
)
# A time, a place, a choice, an owner or what someone did: one value ("Who won the battle?"; "Who was Hubble?" asks
# about a person), asked first or after a clause ("If I start at the latest time, when would I finish?").
_ONE_VALUE = _cues(
    r"^\s*(?:(?:and|but|so|then|ok|okay)\b[,\s]*)?(?:when|where|which|whose|who(?!\s+(?:is|was|are|were)\b))\b",
    r"[,;?]\s+(?:when|where) (?:is|are|was|were|do|does|did|can|could|should|would|will)\b",
    r"\b(?:what|which) (?:year|date|time|day|month)\b",
    r"\bin what year\b",
    r"什么时候|什麼時候|何时|何時|哪里|哪裡|哪儿|哪一?年|几月|幾月|几号|幾號",
)
_HOW_MUCH = _cues(r"^\s*how (?:many|much)\b", r"^[^，,？?]*多少")
_NUMBER = _cues(
    r"\bhow (?:many|much|long|often|old|far|big|large|fast|tall|high|wide|deep)\b",
    r"\b(?:what|which) (?:is|was|are) the (?:maximum|minimum|max|min|number|percentage|share|amount|size|limit|"
    r"cost|price|length|population|rate|total)\b",
    r"\bwhat (?:year|date|time|percentage)\b",
    r"\bin what year\b",
    r"多少|几个|幾個|几年|多大|多长|多長|多久|多高|多少钱",
)
# An auxiliary verb first asks for a yes or a no ("Are wildcard imports OK?"); in Chinese a closing 吗 or a
# 是否/能不能 form does.
_YES_NO = _cues(
    r"^\s*(?:is|are|am|was|were|do|does|did|can|could|should|would|will|shall|may|might|must|has|have|had|"
    r"isn't|aren't|doesn't|don't|didn't|can't|cannot|won't|shouldn't)\b",
    r"吗\s*[？?]?\s*$|嗎\s*[？?]?\s*$|是否|能不能|可不可以|是不是|有没有|有沒有",
)
# "Can you / could you ..." is a request, not a yes/no question: what follows decides.
_REQUEST = re.compile(r"^\s*(?:can|could|would|will) you (?:please )?", re.IGNORECASE)
# "Are there any ... ?" asks for the things, not for a yes.
_ANY = re.compile(r"^\s*(?:are|were) there (?:any )?\w+", re.IGNORECASE)
_COMPARED = [
    re.compile(r"\bdifference(?:s)? between (?P<a>.+?) and (?P<b>.+?)(?:\?|$|,| in | for | when )", re.IGNORECASE),
    re.compile(r"\bcompare (?P<a>.+?) (?:and|with|to) (?P<b>.+?)(?:\?|$|,| in | for )", re.IGNORECASE),
    re.compile(r"\bhow (?:is|are|does|do) (?P<a>.+?) differ(?:ent)? from (?P<b>.+?)(?:\?|$|,)", re.IGNORECASE),
    re.compile(r"\bhow (?:is|are|does|do) (?P<a>.+?) (?:map|correspond)s? (?:onto|to) (?P<b>.+?)(?:\?|$|,)", re.I),
    re.compile(r"(?P<a>[\w.+#-]+(?: [\w.+#-]+){0,3}) (?:vs\.?|versus) (?P<b>[\w.+#-]+(?: [\w.+#-]+){0,3})", re.I),
    re.compile(r"(?P<a>\S+?)\s*相比(?:于|於)?\s*(?P<b>\S+?)(?:[，,？?]|有|在|的|$)"),
    re.compile(r"(?P<a>\S+?)\s*(?:和|与|與|跟)\s*(?P<b>\S+?)\s*(?:的)?(?:区别|區別|不同|差异|差異|比较|對比|对比)"),
]


def compared_things(question: str) -> tuple[str, ...]:
    """The two things a comparison question names ("a standard schedule", "a compressed schedule"), or ()."""
    for pattern in _COMPARED:
        match = pattern.search(question)
        if match:
            return tuple(
                re.sub(r"^(?:the|a|an|our|my)\s+", "", match.group(g).strip(" '\"“”.?!,;:"), flags=re.IGNORECASE)
                for g in ("a", "b")
            )
    return ()


# "Given this paragraph about Arlington, Virginia, what are ...": where the question is, after a reference to the
# text it is about (instructions such as Dolly's are written this way). Left out when the type is decided.
_PREAMBLE = re.compile(
    r"^\s*(?:given|based on|according to|from|using|with|in|referring to|reading|after reading)\s+"
    r"(?:this|the|these|that|a|an)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:paragraphs?|passages?|texts?|articles?|documents?|references?|context|information|excerpts?|descriptions?|"
    r"content|poems?|essays?|stor(?:y|ies)|bio(?:graphy)?|input|data)"
    r"(?:\s+(?:provided|below|above|given))?(?:\s+(?:about|on|of|regarding|describing|for)\s+[^,?]{1,80}?)?\s*[,:]\s*",
    re.IGNORECASE,
)
_CONTRACTIONS = [(re.compile(r"\b(what|who|how|where|which|that|it|there)'s\b", re.IGNORECASE), r"\1 is")]


def _normalized(question: str) -> str:
    """Straight apostrophes, contractions spelt out ("what's" is "what is"), a request's "can you" dropped."""
    text = _PREAMBLE.sub("", question.strip().replace("’", "'"), count=1)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return _REQUEST.sub("", text)


def question_type(question: str) -> QuestionType:
    """The type of answer a question asks for; ``fact`` when no cue says otherwise."""
    text = _normalized(question)
    if _SUMMARY.search(text):
        return "summary"
    if _HOW_MUCH.search(text):  # "How much less steam did A use compared to B?" asks for a number
        return "number"
    if _COMPARISON.search(text):
        return "comparison"
    if _STEPS.search(text):
        return "steps"
    if _LIST.search(text) or _ANY.search(text):
        return "list"
    if _EXPLANATION.search(text):
        return "explanation"
    if _NUMBER.search(text):
        return "number"
    if _YES_NO.search(text):
        return "yes_no"
    return "fact"


# Words that say what kind of answer is wanted, not what it is about: left out of a question's topic.
_CUE_WORDS = re.compile(
    r"\b(?:please|can|could|would|you|give|me|tell|summar(?:y|ize|ise)|overview|brief(?:ly)?|describe|outline|"
    r"list|enumerate|explain|compare|comparison|difference|differences|main|key|points|steps|step|what|which|"
    r"are|is|the|a|an|of|how|do|does|i|we|our|my|to|for|about)\b|[?？!.,]",
    re.IGNORECASE,
)


def topic(question: str) -> str:
    """What the question is about, without the words that ask for a kind of answer: "Summarize the severity
    levels" is about "severity levels". What a section's heading is compared with."""
    return " ".join(_CUE_WORDS.sub(" ", _normalized(question)).split()) or question


# How the answer should be laid out ("separate them with commas", "in a bullet list", "in the format {Name}"):
# it says nothing of what is asked, and scored against the documents' sentences it only dilutes the question
# (an instruction that was half layout fell below the evidence floor; docs/evaluation.md).
_LAYOUT = re.compile(
    r"[,;]?\s*(?:and\s+)?(?:please\s+)?(?:separate|seperate|delimit)d?(?:\s+(?:them|it|each(?: one)?|the \w+))?\s+"
    r"(?:with|by|using)\s+(?:a |an )?(?:comma|semicolon|dot|period|new ?line|line break|space|dash|hyphen|underscore|"
    r"pipe|slash)s?\b"
    r"|[,;]?\s*(?:and\s+)?(?:in|as|into|using|with)\s+(?:a |an )?(?:short\s+)?(?:bullet(?:ed)?|numbered|"
    r"comma[- ](?:separated|delimited))\s+(?:list|points)\b"
    r"|[,;]?\s*(?:and\s+)?(?:in|as|into|using|with)\s+bullet(?:s| points)\b"
    r"|(?:[,;]\s*|\s+and\s+|^|(?<=[.?!])\s*)(?:please\s+)?(?:list|display|show|give|present|place|put|return|"
    r"output|format|write|arrange|sort|order|provide)\s+(?:them|it|these|those|the (?:results?|answers?|names|items|"
    r"output))\s+(?:in|as|into|using|with|by)\s+[^.?!,;{]*"
    r"|[,;]?\s*(?:(?:in|using) the format\s*)?\{[^}]*\}",
    re.IGNORECASE,
)


def content(question: str) -> str:
    """The question without how its answer should be laid out: what retrieval and evidence are scored against."""
    stripped = re.sub(r"([.?!])[.?!\s]*$", r"\1", re.sub(r"\s+([.?!])", r"\1", _LAYOUT.sub("", question))).strip()
    stripped = re.sub(r"([.?!])\s*[.?!]+", r"\1", stripped)
    return stripped if re.search(r"\w", stripped) else question


def classify(question: str) -> Question:
    """The question with its type (read from the whole question: "in a bullet list" asks for a list) and, for a
    comparison, what it compares; its ``text`` is what it asks, without how the answer should be laid out."""
    kind = question_type(question)
    asked = content(question)
    return Question(asked, kind, compared_things(_normalized(asked)) if kind == "comparison" else ())


# --- questions of several parts ---------------------------------------------------------------------------------

# What starts a question of its own: a question word, or an auxiliary verb asking for a yes or a no.
_ASKS = _cues(
    r"^\s*(?:(?:and|but|so|then|also|ok|okay)\b[,\s]*)?(?:what|when|where|which|who|whom|whose|why|how|"
    r"is|are|am|was|were|do|does|did|can|could|should|would|will|shall|may|might|must|has|have|had|"
    r"isn't|aren't|doesn't|don't|didn't|can't|won't)\b",
    r"什么|什麼|哪|谁|誰|何|怎|如何|为什么|為什麼|多少|几|幾|吗|嗎|是否|能否|有没有|有沒有",
)
# Two questions in one sentence: "When did they leave, and when did they arrive?"
_AND_ASKS = re.compile(r"(?:,\s*|\s+)and\s+(?=(?:what|when|where|which|who|whom|whose|why|how)\s+\w+\s+\w)", re.I)
# A closing parenthesis that gives the question's context ("... (about: gliding schedule)") belongs to every part.
_CONTEXT = re.compile(r"\s*\([^()]*\)\s*$")
_CJK = re.compile(r"[\u3400-\u9fff]")
_ENDS_ASKING = re.compile(r"\b(?:what|when|where|which|who|whom|whose|why|how)\s*$", re.IGNORECASE)  # "when and where"
_CONNECTIVE = re.compile(r"^(?:and|but|also|plus)\b[,\s]*", re.IGNORECASE)


def _asks_alone(part: str) -> bool:
    """Whether a piece of a question is a question of its own ("Can I sell it?"), not a qualification of the one
    before ("from SS monthly payments?", "No fees at my end?")."""
    words = part.split()
    if _CJK.search(part):
        return len(_CJK.findall(part)) >= 4 and bool(_ASKS.search(part))
    return len(words) >= 3 and bool(_ASKS.search(part))


def parts(question: str) -> list[str]:
    """The questions a question asks, in order: one for most ("What is a base schedule?"), several for "Where do I
    install it from, and where should I keep its database?" or
    "修复 bug 的提交应该用什么类型？对应语义化版本的哪一位？".
    Each part keeps the question's closing context ("(about: ...)"); text before the first question ("Don't
    worry.") stays with it; a piece that does not ask on its own stays with the part before it."""
    context_match = _CONTEXT.search(question)
    context = context_match.group(0).strip() if context_match else ""
    body = question[: context_match.start()] if context_match else question
    body = re.sub(r"([?？])[?？!！]+", r"\1", body.strip())  # "Can I sell it??"
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[?？])\s*", body):
        if not sentence.strip():
            continue
        halves = _AND_ASKS.split(sentence)
        if len(halves) > 1 and all(_asks_alone(h) and not _ENDS_ASKING.search(h) for h in halves):
            pieces.extend(h.rstrip(" ,") + ("" if h.rstrip().endswith(("?", "？")) else "?") for h in halves)
        else:
            pieces.append(sentence)
    found: list[str] = []
    for piece in pieces:
        asks = piece.rstrip().endswith(("?", "？")) and _asks_alone(piece)
        if found and asks and _ends_question(found[-1]):
            found.append(_CONNECTIVE.sub("", piece.strip()))
        elif found:
            found[-1] = f"{found[-1]} {piece.strip()}"
        else:
            found.append(piece.strip())
    if len(found) < 2:
        return [question]
    return [f"{p} {context}" if context else p for p in found]


def _ends_question(text: str) -> bool:
    """Whether a part already holds a question (preamble alone, "Don't worry.", takes the next one in)."""
    return "?" in text or "？" in text
