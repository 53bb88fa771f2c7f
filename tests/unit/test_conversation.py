"""Follow-ups read against the conversation (rag/conversation.py), with the fake models; the real model is in
tests/integration/test_conversation.py."""

from rag.conversation import (
    FollowupResolver,
    ModelRewriter,
    Turn,
    clarification,
    fuse,
    is_followup,
    verified_rewrite,
)
from rag.types import RetrievedChunk
from tests.fakes import FakeLLM, fake_services

JAVA = Turn("How many spaces do we indent a new block in Java?", "Two spaces [1].", ("java:1:0",))


def _chunk(chunk_id: str, rank: int, score: float = 0.5) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id,
        document_id=chunk_id.split(":")[0],
        version=1,
        source=f"{chunk_id}.md",
        chunk_index=0,
        start=0,
        end=1,
        text="x",
        score=score,
        rank=rank,
    )


def test_without_history_the_question_is_answered_as_asked():
    resolution = FollowupResolver().resolve("And continuation lines when I wrap a long line?")
    assert resolution.standalone == resolution.question and not resolution.followup and resolution.clarify is None


def test_a_followup_carries_the_terms_of_the_turn_before():
    resolution = FollowupResolver().resolve("And continuation lines when I wrap a long line?", [JAVA])
    assert resolution.followup and resolution.certain and resolution.changed
    assert resolution.standalone.startswith("And continuation lines when I wrap a long line?")
    assert "Java" in resolution.standalone and "indent" in resolution.standalone
    assert "spaces" in resolution.standalone and "Two" not in resolution.standalone  # the answer is not carried
    assert resolution.cited_chunk_ids == ("java:1:0",)


def test_a_chain_of_followups_keeps_its_topic():
    second = Turn("And continuation lines?", "Four spaces.", standalone="And continuation lines? (about: Java indent)")
    resolution = FollowupResolver().resolve("What about comments?", [JAVA, second])
    assert "Java" in resolution.standalone and resolution.standalone.count("(about:") == 1


def test_a_question_without_cues_is_left_for_retrieval_to_decide():
    gliding = Turn("What's a gliding schedule?", "You begin working between 7 AM and 10 AM.")
    resolution = FollowupResolver().resolve("If I start at the latest time allowed, when would I finish?", [gliding])
    assert resolution.followup and not resolution.certain
    assert resolution.standalone.endswith("(about: gliding schedule)")
    assert resolution.as_asked().standalone == resolution.question and not resolution.as_asked().followup


def test_followup_cues():
    assert is_followup("Why does it get slower when I turn that on?")
    assert is_followup("What about Izzie?") and is_followup("Or installment easier?")
    assert is_followup("那做高效参数微调呢？")
    assert not is_followup("How many vacation days do new employees get per year?")


def test_clarification_when_nothing_names_what_is_pointed_at():
    assert clarification("What about the other one?", []) is not None
    assert clarification("How much does it cost?", []) is not None
    asked = clarification("What are the services offered by this state library?", [])
    assert asked is not None and "state library" in asked
    assert "Superior Court" in (clarification("Does this Superior Court publish judges roster?", []) or "")
    # the conversation names it: no clarification
    library = Turn("Tell me about the California State Library.", "It is in Sacramento.")
    assert clarification("What are the services offered by this state library?", [library]) is None
    assert clarification("How much does it cost?", [library]) is None


def test_what_is_pointed_at_must_be_named_whole_and_as_one_thing():
    cards = Turn("I'm not sure if I should take a credit card.", "Credit cards offer fraud protection.")
    # the conversation speaks of credit cards in general, not of one card
    assert clarification("What are the potential rewards of this credit card?", [cards]) is not None
    sapphire = Turn("Tell me about the Sapphire credit card.", "It earns points on travel.")
    assert clarification("What are the potential rewards of this credit card?", [sapphire]) is None
    # a department is named, a police department is not
    calfresh = Turn("What is CalFresh?", "A program of the California Department of Social Services.")
    asked = "What does the police department's Explorer program offer?"
    assert clarification(asked, [calfresh]) == "Which police department do you mean?"
    # "TV" says nothing of which series; "those" points back at what was spoken of
    drama = Turn("Grey's Anatomy", "A medical drama television series that premiered in 2005.")
    assert clarification("Who played the detective in the crime drama TV series?", [drama]) is not None
    clinics = Turn("Are there other VA clinics in Boston?", "Yes, the Jamaica Plain VA Outpatient Clinic.")
    assert clarification("Are these clinics available 24/7 for emergencies?", [clinics]) is None
    # the question itself can name it
    stadium = "I mean the Mercedes-Benz Stadium in Atlanta and would like to know more about this stadium."
    assert clarification(stadium, [calfresh]) is None


def test_several_named_candidates_are_offered():
    plans = Turn(
        "What plans does IBM Cloud Internet Services offer?",
        "A no-cost Trial plan, the Standard Next plan and the Enterprise plan.",
    )
    asked = clarification("How many domains are included in the plan?", [plans])
    assert asked == "Do you mean the Trial plan, the Standard Next plan or the Enterprise plan?"
    one = Turn("What does the Trial plan include?", "One domain and 250 DNS records.")
    assert clarification("How many domains are included in the plan?", [one]) is None


def test_search_box_questions_in_lower_case_are_not_asked_back():
    typed = [
        "when does the show the doctors come on",
        "who said you shall not press down upon the brow of labor this crown of thorns",
        "when do the kansas city chiefs play their first game",
        "what do justices do in the supreme court",
        "what are nox and where do they come from",
        "where did the movie safe haven take place",
    ]
    assert [q for q in typed if clarification(q, []) is not None] == []


def test_ordinary_questions_are_not_met_with_a_clarification():
    ordinary = [
        "What is the capital of France?",
        "How many days of leave do new employees get?",
        "What does this mean for new employees?",
        "Is this the right way to configure the proxy?",
        "When did the Normans conquer England?",
        "Which password manager do you recommend?",
        "Summarize the severity levels.",
        "What is the difference between bulk migration and vMotion?",
        "How do I reset it to factory settings if the router hangs?",
    ]
    assert [q for q in ordinary if clarification(q, []) is not None] == []
    resolver = FollowupResolver()
    assert all(resolver.resolve(q).clarify is None for q in ordinary)


def test_fusion_leads_with_the_standalone_ranking_and_boosts_cited_chunks():
    with_history = [_chunk("a:1:0", 1), _chunk("b:1:0", 2), _chunk("c:1:0", 3)]
    alone = [_chunk("d:1:0", 1), _chunk("c:1:0", 2)]
    fused = fuse(with_history, alone, cited=(), top_k=3)
    assert [c.chunk_id for c in fused] == ["c:1:0", "a:1:0", "b:1:0"]  # in both rankings beats first in one
    assert [c.rank for c in fused] == [1, 2, 3] and fused[0].fusion_score > fused[1].fusion_score
    boosted = fuse(with_history, alone, cited=("b:1:0", "zz:1:0"), top_k=3)
    assert [c.chunk_id for c in boosted][:2] == ["b:1:0", "c:1:0"]
    assert "zz:1:0" not in {c.chunk_id for c in boosted}  # a cited chunk retrieval did not return is never added


def test_a_model_rewrite_is_kept_only_when_it_is_one_question_with_the_followups_words():
    question = "Where do I install it from?"
    assert verified_rewrite(question, " Where do I install KeePassXC from? ") == "Where do I install KeePassXC from?"
    assert verified_rewrite(question, "KeePassXC is installed from Self-Service.") is None  # an answer
    assert verified_rewrite(question, "Where do I install it?\nAlso: why?") is None
    assert verified_rewrite(question, "What is the weather like today?") is None  # none of its words


def test_a_capable_models_rewrite_is_used_and_a_bad_one_falls_back(tmp_path):
    manager = Turn("Which password manager do you recommend?", "KeePassXC [1].")
    good = FollowupResolver(ModelRewriter(FakeLLM("Where do I install KeePassXC from?")))
    resolution = good.resolve("Where do I install it from?", [manager])
    assert resolution.standalone == "Where do I install KeePassXC from?" and resolution.certain
    llm = FakeLLM("KeePassXC comes from the Self-Service app.")
    resolution = FollowupResolver(ModelRewriter(llm)).resolve("Where do I install it from?", [manager])
    assert resolution.standalone.endswith("(about: password manager recommend)")
    prompt = llm.prompts[-1]
    assert prompt.startswith("<|im_start|>system\n") and "User: Which password manager" in prompt


DOCS = {
    "gliding.md": b"# Gliding schedule\n\nA gliding schedule lets you begin working between 7 AM and 10 AM. "
    b"You depart between 3:30 PM and 6:30 PM.",
    "parking.md": b"# Parking\n\nThe garage opens at 6 AM. Visitors must register at the front desk.",
}


def _services(tmp_path):
    services = fake_services(tmp_path / "data", llm=FakeLLM())
    for name, body in DOCS.items():
        services.indexer.ingest_bytes(body, name)
    return services


def test_the_pipeline_answers_a_followup_from_the_conversations_topic(tmp_path):
    services = _services(tmp_path)
    first = services.pipeline.answer("What is a gliding schedule?", top_k=1)
    assert first.standalone_question is None and first.citations[0].source == "gliding.md"
    turn = Turn("What is a gliding schedule?", first.answer, tuple(c.chunk_id for c in first.citations))
    followup = services.pipeline.answer("And when do I depart?", top_k=1, history=[turn])
    assert followup.standalone_question is not None and "gliding" in followup.standalone_question
    assert [c.source for c in followup.citations] == ["gliding.md"]
    assert all(c.quote in DOCS["gliding.md"].decode() for c in followup.citations)  # documents only are cited


def test_the_pipeline_reads_a_new_topic_alone(tmp_path):
    services = _services(tmp_path)
    turn = Turn("What is a gliding schedule?", "You begin working between 7 AM and 10 AM.")
    answer = services.pipeline.answer("When does the parking garage open for visitors?", top_k=1, history=[turn])
    assert answer.standalone_question is None and answer.citations[0].source == "parking.md"


def test_the_pipeline_asks_back_instead_of_guessing(tmp_path):
    services = _services(tmp_path)
    answer = services.pipeline.answer("What about the other one?")
    assert answer.answer_type == "clarification" and answer.citations == [] and answer.answer.endswith("?")
    assert services.llm.prompts == []
    events = list(services.pipeline.answer_stream("What about the other one?"))
    assert [e.event for e in events] == ["answer", "done"]
    assert events[0].data["answer_type"] == "clarification"


def test_a_cueless_followup_embeds_both_readings_in_one_batch(tmp_path):
    services = _services(tmp_path)
    batches: list[list[str]] = []
    embed_queries = services.embedder.embed_queries
    services.embedder.embed_queries = lambda texts: batches.append(texts) or embed_queries(texts)  # type: ignore[method-assign]
    calls: list[str] = []
    embed_query = services.embedder.embed_query
    services.embedder.embed_query = lambda text: calls.append(text) or embed_query(text)  # type: ignore[method-assign]
    gliding = Turn("What is a gliding schedule?", "You begin working between 7 AM and 10 AM.")
    question = "If I start at the latest time allowed, when would I finish?"
    answer = services.pipeline.answer(question, top_k=1, history=[gliding])
    assert batches == [[f"{question} (about: gliding schedule)", question]]  # one call, both readings
    assert calls[:2] == batches[0] and answer.citations[0].source == "gliding.md"
    assert answer.timings.embed_ms > 0


def test_the_stream_shows_the_standalone_question(tmp_path):
    services = _services(tmp_path)
    turn = Turn("What is a gliding schedule?", "It lets you begin between 7 AM and 10 AM.")
    events = list(services.pipeline.answer_stream("And when do I depart?", top_k=1, history=[turn]))
    (answer,) = [e.data for e in events if e.event == "answer"]
    assert "gliding" in answer["standalone_question"] and answer["citations"][0]["source"] == "gliding.md"
