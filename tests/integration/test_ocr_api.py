"""OCR through the HTTP API of a real `rag serve` (issue #17): a PDF with a scanned page goes to a background job
that counts pages, and a question only the scanned page answers is answered and cited to that page with the OCR
confidence; bad images and too many pages are refused in the request."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest
from PIL import Image

from tests.formats import make_pdf
from tests.unit.test_ocr import DEJAVU, ENGLISH, TEXT_PAGE, encode, merge_pdfs, render

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed: `make ocr`"),
]


def wait_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job did not finish in {timeout}s: {job}")


def test_a_scanned_page_is_read_in_a_job_and_answers_cited_to_its_page(live_server):
    mixed = merge_pdfs(make_pdf([TEXT_PAGE]), encode(render(ENGLISH, DEJAVU), "PDF"))
    with live_server.client() as client:
        r = client.post("/v1/documents", files={"file": ("lighthouse.pdf", mixed, "application/pdf")})
        assert r.status_code == 202, r.text  # OCR runs in a job even unasked
        job = wait_job(client, r.json()["id"])
        assert job["status"] == "succeeded", job
        assert (job["done"], job["total"]) == (1, 1)  # pages read by OCR: the scanned one
        r = client.post("/v1/query", json={"question": "How many steps do visitors climb to reach the gallery?"})
        assert r.status_code == 200, r.text
        answer = r.json()
    assert "212" in answer["answer"], answer
    citation = answer["citations"][0]
    assert citation["source"] == "lighthouse.pdf" and citation["page"] == 2
    assert "212 steps" in citation["quote"]
    assert citation["ocr_confidence"] is not None and citation["ocr_confidence"] > 0.8


def test_bad_images_and_too_many_pages_are_refused_in_the_request(live_server):
    blank = Image.new("L", (100, 140), 255)
    with live_server.client() as client:
        r = client.post("/v1/documents", files={"file": ("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")})
        assert r.status_code == 422 and "could not be read as an image" in r.json()["detail"]
        r = client.post(
            "/v1/documents", files={"file": ("archive.pdf", encode([blank] * 2000, "PDF"), "application/pdf")}
        )
        assert r.status_code == 413 and "RAG_OCR_MAX_PAGES" in r.json()["detail"]
        sources = {d["source"] for d in client.get("/v1/documents").json()["documents"]}
    assert not sources & {"broken.png", "archive.pdf"}  # the index is unchanged
