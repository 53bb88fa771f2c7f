"""The web page in a real browser: Debian's chromium, headless, driven by Playwright, against the real service.

Set ``UI_SCREENSHOT=docs/ui.png`` to save the answered page (the README's picture); normal runs write nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make install")

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = os.environ.get("UI_SCREENSHOT")

FACT = (
    "# Quillon Island Lighthouse\n\n"
    "The lighthouse on Quillon Island was painted cobalt blue in 1987 by the keeper Ines Varga.\n\n"
    "Its lamp can be seen from 31 kilometres away on a clear night.\n"
)
QUOTE = "The lighthouse on Quillon Island was painted cobalt blue in 1987 by the keeper Ines Varga."
ANSWER_TIMEOUT_MS = 180_000

# Records what the answer element shows while the answer is streaming, as the user would have seen it.
WATCH_STREAM = """() => {
  window.__frames = [];
  const answer = document.querySelector('#answer');
  new MutationObserver(() => {
    if (document.querySelector('#result').dataset.state !== 'streaming') return;
    window.__frames.push({text: answer.textContent, chips: answer.querySelectorAll('.chip').length});
  }).observe(answer, {childList: true, characterData: true, subtree: true});
}"""

DROP_FILE = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, {type: 'text/markdown'}));
  return transfer;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server) -> Iterator[playwright.Page]:
    """A fresh browser profile per test, on the page served by the live service, with the service's admin key
    saved the way the page's key field saves it (the service runs with auth on, as shipped)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1600, "height": 760})
    if live_server.key:
        context.add_init_script(f"localStorage.setItem('rag.apiKey', {json.dumps(live_server.key)})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def drop_file(page: playwright.Page, name: str, text: str) -> None:
    """Drag and drop, as a user does it: a drop event carrying the file on the drop zone."""
    transfer = page.evaluate_handle(DROP_FILE, [name, text])
    page.dispatch_event("#drop", "dragenter", {"dataTransfer": transfer})
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})


def ask(page: playwright.Page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector('#result[data-state="done"], #result[data-state="error"]', timeout=ANSWER_TIMEOUT_MS)


def test_upload_ask_streamed_answer_and_open_citation(page, live_server):
    expect = playwright.expect
    drop_file(page, "quillon.md", FACT)
    upload = page.locator("#uploads li").first
    expect(upload).to_have_class("upload ok", timeout=60_000)
    expect(upload).to_contain_text("Indexed: version 1, 1 chunk")
    row = page.locator("#documents tbody tr", has_text="quillon.md")
    expect(row.locator(".badge")).to_have_text("ready")
    expect(row.locator(".version")).to_have_text("1")
    expect(page.locator("#sources-empty")).to_have_text("No sources registered.")

    page.evaluate(WATCH_STREAM)
    ask(page, "What colour is the Quillon Island lighthouse?")
    result = page.locator("#result")
    expect(result).to_have_attribute("data-state", "done")
    assert result.get_attribute("data-answer-type") in ("generated", "extractive")
    answer = page.locator("#answer")
    expect(answer).to_contain_text("cobalt blue")

    # Streamed: the text grew on the page, delta by delta, before the verified answer with its chips replaced it.
    frames = page.evaluate("window.__frames")
    partial = [f["text"] for f in frames if f["chips"] == 0 and f["text"]]
    assert int(result.get_attribute("data-deltas")) >= 1 and partial, frames
    assert frames[-1]["chips"] >= 1, frames
    expect(page.locator("#timings")).to_contain_text("answered in")

    chip = answer.locator(".chip").first
    expect(chip).to_contain_text("quillon.md")
    chip.click()
    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#panel-title")).to_have_text("quillon.md")
    expect(panel.locator(".meta")).to_contain_text("Source")
    expect(panel.locator("mark")).to_have_text(QUOTE)
    expect(panel.locator("pre.chunk")).to_contain_text("Its lamp can be seen from 31 kilometres away")
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT)

    panel.locator("button", has_text="Show the whole document").click()
    expect(panel.locator(".doc-chunk.cited")).to_contain_text(QUOTE)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_rejected_uploads_show_the_servers_message(page):
    expect = playwright.expect
    page.set_input_files(
        "#file-input",
        files=[
            {"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90\x00binary"},
            {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""},
        ],
    )
    exe = page.locator("#uploads li", has_text="tool.exe")
    expect(exe).to_have_class("upload error", timeout=30_000)
    expect(exe.locator(".status")).to_contain_text("Rejected (415)")
    expect(exe.locator(".status")).to_contain_text("accepted types")
    empty = page.locator("#uploads li", has_text="empty.txt")
    expect(empty).to_have_class("upload error", timeout=30_000)
    expect(empty.locator(".status")).to_contain_text("Rejected (422)")
    expect(page.locator("#documents tbody tr", has_text="tool.exe")).to_have_count(0)


def test_abstention_is_shown_plainly(page, live_server):
    note = b"The greenhouse sprinklers run for twelve minutes at dawn.\n"  # something indexed, unrelated
    httpx.post(
        f"{live_server.url}/v1/documents",
        files={"file": ("greenhouse.md", note)},
        headers=live_server.headers,
        timeout=60,
    )
    ask(page, "What is the capital of Mongolia?")
    result = page.locator("#result")
    assert result.get_attribute("data-answer-type") == "abstained"
    playwright.expect(page.locator("#answer-kind.abstained")).to_contain_text("The service abstained")
    playwright.expect(page.locator("#answer .chip")).to_have_count(0)


def test_delete_document(page, live_server):
    expect = playwright.expect
    body = httpx.post(
        f"{live_server.url}/v1/documents",
        files={"file": ("doomed.md", b"The doomed note mentions otters.\n")},
        headers=live_server.headers,
    ).json()
    page.click("#reload-docs")
    row = page.locator(f'#documents tbody tr[data-id="{body["id"]}"]')
    delete = row.locator("button", has_text="Delete")
    delete.click()
    expect(row.locator("button.danger")).to_have_text("Really delete?")
    row.locator("button.danger").click()
    expect(row).to_have_count(0)
    assert httpx.get(f"{live_server.url}/v1/documents/{body['id']}", headers=live_server.headers).status_code == 404


def test_api_key_is_sent_on_every_request_and_a_401_asks_for_it(page, live_server):
    expect = playwright.expect
    seen: list[tuple[str, str | None]] = []
    page.on("request", lambda r: seen.append((f"{r.method} {urlsplit(r.url).path}", r.headers.get("authorization"))))
    page.fill("#api-key", live_server.key)
    page.click("#key-form button")
    expect(page.locator("#key-note")).to_have_text("saved in this browser")
    page.set_input_files("#file-input", files=[{"name": "key.md", "mimeType": "text/markdown", "buffer": b"Keys.\n"}])
    expect(page.locator("#uploads li", has_text="key.md")).not_to_have_class("upload pending", timeout=30_000)
    ask(page, "What is the capital of Mongolia?")
    calls = [(what, auth) for what, auth in seen if " /v1/" in what or what.endswith("/healthz")]
    assert {what for what, _ in calls} >= {
        "GET /healthz",
        "GET /v1/documents",
        "GET /v1/sources",
        "POST /v1/documents",
        "POST /v1/query",
    }
    assert all(auth == f"Bearer {live_server.key}" for _, auth in calls), calls
    expect(page.locator("#uploads li", has_text="key.md")).to_have_class("upload ok")

    # A key the service does not know: its real 401 puts the key field up front with the server's message.
    page.fill("#api-key", "rag_not-a-key-this-service-made")
    page.click("#key-form button")
    expect(page.locator("#banner")).to_contain_text("The service rejected the API key: the API key is not valid")
    expect(page.locator("#key-form")).to_have_class("key needs-key")


SOURCE = {
    "id": "s1",
    "path": "/srv/handbook",
    "include": ["**/*.md"],
    "exclude": ["drafts/**"],
    "interval_s": 600,
    "created_at": "2026-01-05T10:00:00+00:00",
    "updated_at": "2026-01-05T10:00:00+00:00",
    "files": 14,
    "failed_files": [{"path": "broken.md", "error": "invalid UTF-8"}],
}


def job(job_id: str, status: str, **counts: int) -> dict:
    return {
        "id": job_id,
        "kind": "refresh",
        "status": status,
        "description": "refresh /srv/handbook",
        "total": 14,
        "done": 14 if status == "succeeded" else 3,
        "counts": counts,
        "errors": [],
        "document_id": None,
        "source_id": "s1",
        "created_at": "2026-01-05T10:00:00+00:00",
        "started_at": "2026-01-05T10:00:01+00:00",
        "finished_at": "2026-01-05T10:00:09+00:00" if status == "succeeded" else None,
    }


def test_sources_with_last_job_and_refresh(page):
    """The sources API's shape (issue #5), answered by the browser itself, so the page is tested on its own."""
    expect = playwright.expect
    state = {"last": job("j1", "succeeded", added=3, unchanged=10, failed=1)}

    def sources(route):
        route.fulfill(json={"sources": [{**SOURCE, "last_job": state["last"]}]})

    def refresh(route):
        state["last"] = job("j2", "succeeded", updated=2, unchanged=12)
        route.fulfill(status=202, json=job("j2", "queued"), headers={"Location": "/v1/jobs/j2"})

    page.route("**/v1/sources", sources)
    page.route("**/v1/sources/s1/refresh", refresh)
    page.route("**/v1/jobs/j2", lambda route: route.fulfill(json=state["last"]))
    page.click("#reload-sources")
    item = page.locator("#sources li.source-item")
    expect(item.locator(".path")).to_have_text("/srv/handbook")
    expect(item).to_contain_text("every 10 min · include **/*.md · exclude drafts/** · 14 files")
    expect(item.locator(".job")).to_contain_text("succeeded 3 added · 10 unchanged · 1 failed")
    expect(item.locator("details.errors")).to_contain_text("1 file could not be indexed")

    item.locator("button", has_text="Refresh now").click()
    expect(page.locator("#sources .job")).to_contain_text("2 updated · 12 unchanged")

    # A service without the sources API answers 404: the page says there are none, without an error.
    page.route("**/v1/sources", lambda route: route.fulfill(status=404, body=json.dumps({"detail": "Not Found"})))
    page.click("#reload-sources")
    expect(page.locator("#sources-empty")).to_have_text("No sources registered.")
    expect(page.locator("#banner")).to_be_hidden()


LIBRARY = (
    "# Marlow Public Library\n\n"
    "The Marlow Public Library lends telescopes to its members for two weeks at a time.\n\n"
    "The Marlow Public Library closes at 18:00 on Saturdays.\n"
)


def test_conversation_thread_new_conversation_reopen_and_delete(page, live_server):
    """Follow-ups are asked in the page's conversation and shown as a thread; conversations are listed, reopened
    (also after a reload) and removed."""
    expect = playwright.expect
    httpx.post(
        f"{live_server.url}/v1/documents",
        files={"file": ("library.md", LIBRARY.encode())},
        headers=live_server.headers,
        timeout=60,
    )
    first = "What does the Marlow Public Library lend to its members?"
    ask(page, first)
    expect(page.locator("#result")).to_have_attribute("data-state", "done")
    expect(page.locator("#asked")).to_have_text(first)
    expect(page.locator("#answer")).to_contain_text("telescopes")
    expect(page.locator("#question")).to_have_value("")
    conversation = page.evaluate("document.body.dataset.conversation")
    assert conversation

    ask(page, "When does it close on Saturdays?")
    # The first question moved into the thread above, with its answer and chips; the follow-up is the result.
    thread = page.locator("#thread li.turn")
    expect(thread).to_have_count(1)
    expect(thread.locator(".turn-question")).to_have_text(first)
    expect(thread.locator(".answer")).to_contain_text("telescopes")
    expect(thread.locator(".answer .chip").first).to_contain_text("library.md")
    expect(page.locator("#asked")).to_have_text("When does it close on Saturdays?")
    expect(page.locator("#standalone")).to_contain_text("Answered as:")
    expect(page.locator("#answer .chip").first).to_contain_text("library.md")
    turns = httpx.get(f"{live_server.url}/v1/conversations/{conversation}", headers=live_server.headers).json()
    assert [t["question"] for t in turns["turns"]] == [first, "When does it close on Saturdays?"]
    item = page.locator(f'#conversations li[data-id="{conversation}"]')
    expect(item.locator(".open")).to_have_text(first)
    expect(item).to_have_attribute("aria-current", "true")

    # A new conversation: the next question is asked on its own, in a conversation of its own.
    page.click("#new-conversation")
    expect(page.locator("#thread li")).to_have_count(0)
    expect(page.locator("#result")).to_be_hidden()
    ask(page, "How long can members keep a telescope?")
    expect(page.locator("#thread li")).to_have_count(0)
    second = page.evaluate("document.body.dataset.conversation")
    assert second and second != conversation
    expect(page.locator(f'#conversations li[data-id="{second}"]')).to_have_attribute("aria-current", "true")
    expect(item).to_have_attribute("aria-current", "false")

    # Reopening the first shows both its turns; so does reloading the page, which resumes it.
    item.locator(".open").click()
    expect(page.locator("#thread li.turn")).to_have_count(2)
    expect(page.locator("#result")).to_be_hidden()
    page.reload()
    page.wait_for_selector("body[data-ready]")
    expect(page.locator("#thread li.turn")).to_have_count(2)
    expect(page.locator("#thread li.turn").nth(1).locator(".turn-question")).to_have_text(
        "When does it close on Saturdays?"
    )
    expect(page.locator("#thread li.turn").first.locator(".chip").first).to_contain_text("library.md")

    # Deleting the open conversation (a second click confirms) starts over.
    delete = page.locator(f'#conversations li[data-id="{conversation}"] button.danger')
    delete.click()
    expect(delete).to_have_text("Really delete?")
    delete.click()
    expect(page.locator(f'#conversations li[data-id="{conversation}"]')).to_have_count(0)
    expect(page.locator("#thread li")).to_have_count(0)
    assert (
        httpx.get(f"{live_server.url}/v1/conversations/{conversation}", headers=live_server.headers).status_code == 404
    )
