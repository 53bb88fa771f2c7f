"""Gold-paragraph recall on SQuAD-format sets (evaluation/retrieval.py), with the fake embedder."""

from evaluation.datasets import SquadQuestion
from evaluation.retrieval import evaluate_squad_retrieval

PARAGRAPHS = {
    "Vault-0": "The vault opens at nine in the morning and closes at five.",
    "Garden-0": "Tomatoes grow best in full sun with regular watering.",
    "Trains-0": "The night train to Vienna leaves from platform seven.",
}


def test_recall_counts_the_gold_paragraph_among_the_first_k(services):
    for context_id, text in PARAGRAPHS.items():
        services.indexer.ingest_bytes(text.encode(), f"set/{context_id}.txt")
    questions = [
        SquadQuestion("q1", "When does the vault open in the morning?", ["nine"], "Vault-0"),
        SquadQuestion("q2", "Which platform does the night train to Vienna leave from?", ["seven"], "Trains-0"),
        SquadQuestion("q3", "Where do tomatoes grow best?", ["full sun"], "Vault-0"),  # gold is elsewhere: a miss at 1
    ]
    result = evaluate_squad_retrieval(services.retriever, questions, mode="dense", ks=(1, 3))
    assert result["questions"] == 3
    assert result["recall@1"] == round(2 / 3, 4)
    assert result["recall@3"] == 1.0
    assert 2 / 3 < result["mrr@10"] < 1.0
