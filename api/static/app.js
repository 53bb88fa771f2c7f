// The page talks to the same JSON API as any other client; nothing here is private to the page.
// Server text (file names, chunks, error messages) is always set as textContent, never as HTML.
"use strict";

const KEY_STORAGE = "rag.apiKey";
const $ = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------- helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function basename(path) {
  return String(path).split(/[\\/]/).filter(Boolean).pop() || String(path);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function ago(iso) {
  if (!iso) return "";
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

function timeCell(iso) {
  return el("time", { datetime: iso, title: iso ? new Date(iso).toLocaleString() : "" }, ago(iso));
}

function interval(seconds) {
  if (!seconds) return "on demand";
  if (seconds % 86400 === 0) return `every ${plural(seconds / 86400, "day")}`;
  if (seconds % 3600 === 0) return `every ${seconds / 3600} h`;
  if (seconds % 60 === 0) return `every ${seconds / 60} min`;
  return `every ${seconds} s`;
}

// ---------------------------------------------------------------- API access

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

// FastAPI says what went wrong in "detail": a sentence, or a list of field errors for invalid requests.
function detailText(body, status, statusText) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".")}: ${d.msg}`).join("; ");
  }
  return `${status} ${statusText || "error"}`.trim();
}

async function errorMessage(response) {
  const text = await response.text();
  try {
    return detailText(JSON.parse(text), response.status, response.statusText);
  } catch {
    return text.trim().slice(0, 300) || `${response.status} ${response.statusText}`;
  }
}

function noteStatus(status, message) {
  if (status === 401) needKey(message);
  else if (status === 403) showBanner(`Not allowed with this API key: ${message}`);
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: authHeaders(options.headers) });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "Cannot reach the service. Is it running?");
  }
  if (!response.ok) {
    const message = await errorMessage(response);
    noteStatus(response.status, message);
    throw new ApiError(response.status, message);
  }
  return response;
}

async function getJSON(path) {
  return (await api(path)).json();
}

async function followJob(id, onUpdate) {
  for (;;) {
    const job = await getJSON(`/v1/jobs/${encodeURIComponent(id)}`);
    onUpdate(job);
    if (job.status === "succeeded" || job.status === "failed") return job;
    await sleep(1000);
  }
}

function jobCounts(job) {
  const counts = job.counts || {};
  const parts = ["created", "added", "updated", "unchanged", "deleted", "failed"]
    .filter((k) => counts[k])
    .map((k) => `${counts[k]} ${k}`);
  return parts.join(" · ") || "no changes";
}

// ---------------------------------------------------------------- banner and API key

function showBanner(message) {
  const banner = $("#banner");
  banner.textContent = message;
  banner.hidden = false;
}

function hideBanner() {
  $("#banner").hidden = true;
}

function needKey(message) {
  const form = $("#key-form");
  if (!form.classList.contains("needs-key")) $("#api-key").focus(); // once, not on every background reload
  form.classList.add("needs-key");
  showBanner(
    apiKey()
      ? `The service rejected the API key: ${message}`
      : `The service needs an API key: ${message}. Enter it at the top of the page.`,
  );
}

function setupKey() {
  const input = $("#api-key");
  input.value = apiKey();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
    $("#key-form").classList.remove("needs-key");
    $("#key-note").textContent = key ? "saved in this browser" : "cleared";
    hideBanner();
    refreshAll();
  });
}

// ---------------------------------------------------------------- health

async function loadHealth() {
  try {
    const h = await getJSON("/healthz");
    const model = h.llm ? ` · model ${basename(h.llm)}` : " · no model loaded";
    $("#health").textContent = `${plural(h.documents, "document")} · ${plural(h.chunks, "chunk")}${model}`;
  } catch (error) {
    $("#health").textContent = error.message;
  }
}

// ---------------------------------------------------------------- documents

const PAGE = 200;

async function loadDocuments() {
  let data;
  try {
    data = await getJSON(`/v1/documents?limit=${PAGE}`);
  } catch (error) {
    $("#docs-empty").textContent = `Could not list documents: ${error.message}`;
    $("#docs-empty").hidden = false;
    return;
  }
  const body = $("#documents tbody");
  body.replaceChildren(...data.documents.map(documentRow));
  $("#documents").hidden = data.documents.length === 0;
  $("#docs-empty").textContent = "No documents yet: drop a file above.";
  $("#docs-empty").hidden = data.documents.length > 0;
  $("#docs-more").hidden = data.total <= data.documents.length;
  $("#docs-more").textContent = `Showing ${data.documents.length} of ${data.total}.`;
}

function documentRow(doc) {
  const remove = el("button", { type: "button", className: "link danger", title: `Delete ${doc.source}` }, "Delete");
  remove.addEventListener("click", () => deleteDocument(doc, remove));
  const open = el(
    "button",
    { type: "button", className: "link", title: `${doc.source}\n${doc.media_type}, ${formatBytes(doc.size_bytes)}` },
    basename(doc.source),
  );
  open.addEventListener("click", () => openDocument(doc.id, null, open));
  return el(
    "tr",
    { dataset: { id: doc.id } },
    el("td", { className: "source" }, open),
    el("td", {}, el("span", { className: `badge ${doc.status}` }, doc.status)),
    el("td", { className: "num version" }, doc.version),
    el("td", { className: "num" }, doc.chunk_count),
    el("td", {}, timeCell(doc.updated_at)),
    el("td", { className: "actions" }, remove),
  );
}

// Deleting asks once more in place (no blocking dialog): a second click within a few seconds confirms.
// A delete button asks once more in place ("Really delete?") for four seconds: true on the second click.
function confirmedTwice(button) {
  if (button.dataset.armed === "yes") return true;
  button.dataset.armed = "yes";
  button.textContent = "Really delete?";
  setTimeout(() => {
    if (button.isConnected) {
      button.dataset.armed = "";
      button.textContent = "Delete";
    }
  }, 4000);
  return false;
}

async function deleteDocument(doc, button) {
  if (!confirmedTwice(button)) return;
  button.disabled = true;
  try {
    await api(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
  } catch (error) {
    if (error.status !== 404) showBanner(`Could not delete ${doc.source}: ${error.message}`);
  }
  await Promise.all([loadDocuments(), loadHealth()]);
}

// ---------------------------------------------------------------- uploads

let uploadQueue = Promise.resolve();

function uploadFiles(files) {
  for (const file of files) {
    const item = uploadItem(file);
    // One at a time: the server indexes on the same few CPU cores that answer questions.
    uploadQueue = uploadQueue.then(() => uploadOne(file, item));
  }
}

function uploadItem(file) {
  const progress = el("progress", { max: 1, value: 0 });
  const status = el("span", { className: "status" }, "waiting");
  const close = el("button", { type: "button", className: "link", "aria-label": "Dismiss" }, "✕");
  const item = el(
    "li",
    { className: "upload pending" },
    el("span", { className: "name", title: file.name }, file.name),
    close,
    progress,
    status,
  );
  close.addEventListener("click", () => item.remove());
  $("#uploads").prepend(item);
  return { item, progress, status };
}

function finishUpload({ item, progress, status }, outcome, text) {
  item.classList.remove("pending");
  item.classList.add(outcome);
  progress.remove();
  status.textContent = text;
}

function uploadOne(file, view) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest(); // fetch() cannot report upload progress
    xhr.open("POST", "/v1/documents");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      view.progress.value = event.loaded / event.total;
      view.status.textContent = `uploading ${Math.round((100 * event.loaded) / event.total)}%`;
    });
    xhr.upload.addEventListener("load", () => {
      view.progress.removeAttribute("value"); // indeterminate while the server parses and embeds
      view.status.textContent = "indexing…";
    });
    xhr.addEventListener("error", () => {
      finishUpload(view, "error", "Upload failed: cannot reach the service.");
      resolve();
    });
    xhr.addEventListener("load", async () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 202 && body) {
        await followUploadJob(body, view);
      } else if (xhr.status >= 200 && xhr.status < 300 && body) {
        const what = { created: "Indexed", updated: "Updated to a new version", unchanged: "Unchanged" }[body.outcome];
        finishUpload(view, "ok", `${what || body.outcome}: version ${body.version}, ${plural(body.chunk_count, "chunk")}`);
      } else {
        const message = body ? detailText(body, xhr.status, xhr.statusText) : xhr.responseText || xhr.statusText;
        noteStatus(xhr.status, message);
        finishUpload(view, "error", `Rejected (${xhr.status}): ${message}`);
      }
      await Promise.all([loadDocuments(), loadHealth()]);
      resolve();
    });
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

async function followUploadJob(job, view) {
  view.status.textContent = "queued as a background job";
  try {
    const final = await followJob(job.id, (j) => {
      if (j.total) view.progress.value = j.done / j.total;
      view.status.textContent = `${j.status} in the background (${j.done}/${j.total || "?"})`;
    });
    if (final.status === "succeeded") finishUpload(view, "ok", `Indexed in the background: ${jobCounts(final)}`);
    else {
      const errors = (final.errors || []).map((e) => e.error).join("; ");
      finishUpload(view, "error", `Indexing failed: ${errors || "see GET /v1/jobs/" + final.id}`);
    }
  } catch (error) {
    finishUpload(view, "error", `Lost track of the background job: ${error.message}`);
  }
}

function setupDrop() {
  const drop = $("#drop");
  const input = $("#file-input");
  input.addEventListener("change", () => {
    uploadFiles([...input.files]);
    input.value = "";
  });
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      input.click();
    }
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    uploadFiles([...event.dataTransfer.files]);
  });
  // A file dropped beside the zone must not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

// ---------------------------------------------------------------- sources

async function loadSources() {
  const list = $("#sources");
  const empty = $("#sources-empty");
  let sources = [];
  try {
    sources = (await getJSON("/v1/sources")).sources;
  } catch (error) {
    if (error.status !== 404) {
      // 404: this service has no sources API
      list.replaceChildren();
      empty.textContent = `Could not list sources: ${error.message}`;
      empty.hidden = false;
      return;
    }
  }
  list.replaceChildren(...sources.map(sourceItem));
  empty.textContent = "No sources registered.";
  empty.hidden = sources.length > 0;
}

function jobLine(job) {
  if (!job) return el("div", { className: "job muted" }, "never refreshed");
  const when = job.finished_at || job.started_at || job.created_at;
  const errors = job.errors || [];
  return el(
    "div",
    { className: "job" },
    el("span", { className: `badge ${job.status}` }, job.status),
    " ",
    { queued: "waiting to start", running: `${job.done}/${job.total || "?"} files` }[job.status] || jobCounts(job),
    " · ",
    timeCell(when),
    errors.length
      ? el(
          "details",
          { className: "errors" },
          el("summary", {}, plural(errors.length, "error")),
          el("ul", {}, errors.map((e) => el("li", {}, `${e.source}: ${e.error}`))),
        )
      : null,
  );
}

function sourceItem(source) {
  const refresh = el("button", { type: "button" }, "Refresh now");
  const job = el("div", {}, jobLine(source.last_job));
  refresh.addEventListener("click", () => refreshSource(source, refresh, job));
  const globs = [
    source.include && source.include.length ? `include ${source.include.join(", ")}` : null,
    source.exclude && source.exclude.length ? `exclude ${source.exclude.join(", ")}` : null,
  ].filter(Boolean);
  const failed = source.failed_files || [];
  return el(
    "li",
    { className: "source-item", dataset: { id: source.id } },
    el("div", { className: "source-head" }, el("code", { className: "path", title: source.path }, source.path), refresh),
    el(
      "div",
      { className: "muted small" },
      [interval(source.interval_s), ...globs, source.files !== undefined ? plural(source.files, "file") : null]
        .filter(Boolean)
        .join(" · "),
    ),
    job,
    failed.length
      ? el(
          "details",
          { className: "errors" },
          el("summary", {}, `${plural(failed.length, "file")} could not be indexed`),
          el("ul", {}, failed.map((f) => el("li", {}, `${f.path}: ${f.error}`))),
        )
      : null,
  );
}

async function refreshSource(source, button, jobBox) {
  button.disabled = true;
  try {
    const job = await (await api(`/v1/sources/${encodeURIComponent(source.id)}/refresh`, { method: "POST" })).json();
    jobBox.replaceChildren(jobLine(job));
    await followJob(job.id, (j) => jobBox.replaceChildren(jobLine(j)));
    await Promise.all([loadSources(), loadDocuments(), loadHealth()]);
  } catch (error) {
    jobBox.replaceChildren(el("div", { className: "job error-text" }, `Refresh failed: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- asking

let asking = null; // AbortController of the question in flight

// Server-sent events from a POST response (EventSource can only GET). Yields {event, data} as they arrive.
async function* sseEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    // A trailing "\r" may be the first half of "\r\n": keep it for the next read.
    const held = buffer.endsWith("\r") ? "\r" : "";
    const lines = (held ? buffer.slice(0, -1) : buffer).split(/\r\n|\r|\n/);
    buffer = lines.pop() + held;
    for (const line of lines) {
      if (line === "") {
        if (data.length) yield { event, data: data.join("\n") };
        event = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
    }
  }
}

function setState(state) {
  $("#result").dataset.state = state;
  const busy = state === "waiting" || state === "streaming";
  $("#ask-button").disabled = busy;
  $("#stop-button").hidden = !busy;
}

function setKind(kind, label, note) {
  const box = $("#answer-kind");
  box.className = `answer-kind ${kind}`;
  box.replaceChildren(el("strong", {}, label), note ? el("span", {}, ` ${note}`) : null);
  $("#result").dataset.answerType = kind;
}

// The question shown in #result, with its answer once complete: the next question moves it into the thread.
let shownTurn = null;

async function ask(question, retried = false) {
  if (asking) asking.abort();
  const controller = new AbortController();
  asking = controller;
  if (shownTurn) $("#thread").append(turnItem(shownTurn));
  shownTurn = null;
  const result = $("#result");
  result.hidden = false;
  result.dataset.deltas = "0";
  $("#asked").textContent = question;
  $("#standalone").hidden = true;
  $("#answer").replaceChildren();
  $("#answer").classList.remove("cursor");
  $("#citations").replaceChildren();
  $("#timings").textContent = "";
  $("#draft").hidden = true;
  setKind("pending", "Searching the documents…");
  setState("waiting");

  let streamed = "";
  let answered = false;
  let conversation = null;
  try {
    conversation = await ensureConversation();
    const response = await api("/v1/query", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, stream: true, conversation_id: conversation }),
      signal: controller.signal,
    });
    for await (const { event, data } of sseEvents(response.body)) {
      const payload = JSON.parse(data);
      if (event === "delta") {
        if (!streamed) setKind("pending", "Writing the answer…");
        setState("streaming");
        streamed += payload.text;
        result.dataset.deltas = String(Number(result.dataset.deltas) + 1);
        $("#answer").textContent = streamed;
        $("#answer").classList.add("cursor");
      } else if (event === "answer") {
        renderAnswer(payload, streamed);
        shownTurn = { ...payload, question };
        answered = true;
      } else if (event === "done") {
        renderTimings(payload.timings || {});
      } else if (event === "error") {
        // The model failed after the answer had started (a remote LLM gone): say what the server said.
        throw new ApiError(payload.status_code || 0, payload.detail);
      }
    }
    if (!answered) throw new ApiError(0, "The answer stream ended before the answer was complete.");
    setState("done");
  } catch (error) {
    $("#answer").classList.remove("cursor");
    if (error.status === 404 && conversation && !retried && asking === controller) {
      // The conversation was deleted elsewhere: ask again in a new one.
      asking = null;
      startConversation(null);
      return ask(question, true);
    }
    if (error.name === "AbortError") {
      setKind("stopped", "Stopped.");
      setState("stopped");
    } else {
      setKind("error", "Could not answer:", error.message);
      setState("error");
    }
  } finally {
    if (asking === controller) asking = null;
  }
  loadConversations();
}

// ---------------------------------------------------------------- conversations

const CONVERSATION_STORAGE = "rag.conversation";
let conversationId = null; // the conversation questions are asked in; null: a new one is made by the next question

function setConversation(id) {
  conversationId = id;
  if (id) localStorage.setItem(CONVERSATION_STORAGE, id);
  else localStorage.removeItem(CONVERSATION_STORAGE);
  for (const item of document.querySelectorAll("#conversations li")) {
    item.setAttribute("aria-current", String(item.dataset.id === id));
  }
  document.body.dataset.conversation = id || "";
}

async function ensureConversation() {
  if (conversationId) return conversationId;
  const made = await (
    await api("/v1/conversations", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
  ).json();
  setConversation(made.id);
  return made.id;
}

// Start over (id null) or show a conversation's turns; the next question is asked in it.
function startConversation(id, turns = []) {
  if (asking) asking.abort();
  shownTurn = null;
  setConversation(id);
  $("#thread").replaceChildren(...turns.map(turnItem));
  $("#result").hidden = true;
  $("#result").dataset.state = "idle";
  $("#ask-button").disabled = false;
  $("#stop-button").hidden = true;
}

// An earlier question of the conversation and its answer, with chips that open the quoted passages.
function turnItem(turn) {
  const [kind, label] = kindOf(turn);
  const standalone = el("p", { className: "standalone muted small" });
  showStandalone(standalone, turn);
  return el(
    "li",
    { className: "turn", dataset: { answerType: turn.answer_type } },
    el("p", { className: "turn-question" }, turn.question),
    standalone,
    ["generated", "composed"].includes(kind) ? null : el("div", { className: `answer-kind ${kind}` }, el("strong", {}, label)),
    el("p", { className: "answer" }, answerNodes(turn)),
    el("ol", { className: "citations" }, citationItems(turn.citations || [])),
  );
}

async function openConversation(id, { quiet = false } = {}) {
  let conversation;
  try {
    conversation = await getJSON(`/v1/conversations/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status === 404) {
      if (conversationId === id) setConversation(null);
      if (!quiet) loadConversations();
    } else if (!quiet) showBanner(`Could not open the conversation: ${error.message}`);
    return;
  }
  startConversation(conversation.id, conversation.turns);
  const last = $("#thread li:last-child");
  if (last && !quiet) last.scrollIntoView({ block: "nearest" });
  $("#question").focus();
}

async function loadConversations() {
  const list = $("#conversations");
  const empty = $("#conversations-empty");
  let conversations = [];
  try {
    conversations = (await getJSON("/v1/conversations?limit=50")).conversations;
  } catch (error) {
    if (error.status !== 404) {
      // 404: this service keeps no conversations
      list.replaceChildren();
      empty.textContent = `Could not list conversations: ${error.message}`;
      empty.hidden = false;
      return;
    }
  }
  list.replaceChildren(...conversations.map(conversationItem));
  empty.textContent = "No conversations yet: ask a question.";
  empty.hidden = conversations.length > 0;
}

function conversationItem(c) {
  const title = c.title || "(no question yet)";
  const open = el(
    "button",
    { type: "button", className: "link open", title: `${title}\n${plural(c.turn_count, "question")}` },
    title,
  );
  open.addEventListener("click", () => openConversation(c.id));
  const remove = el("button", { type: "button", className: "link danger", title: `Delete “${title}”` }, "Delete");
  remove.addEventListener("click", () => deleteConversation(c, remove));
  return el(
    "li",
    { className: "conversation-item", dataset: { id: c.id }, "aria-current": String(c.id === conversationId) },
    open,
    el("span", { className: "muted small", title: plural(c.turn_count, "question") }, String(c.turn_count)),
    timeCell(c.updated_at),
    remove,
  );
}

// As with documents, a second click within a few seconds confirms.
async function deleteConversation(c, button) {
  if (!confirmedTwice(button)) return;
  button.disabled = true;
  try {
    await api(`/v1/conversations/${encodeURIComponent(c.id)}`, { method: "DELETE" });
  } catch (error) {
    if (error.status !== 404) showBanner(`Could not delete the conversation: ${error.message}`);
  }
  if (c.id === conversationId) startConversation(null);
  await loadConversations();
}

// What kind of answer it is, as a label and a note for people.
function kindOf(answer) {
  const kinds = {
    generated: ["generated", "Answer", "checked against the quoted sources."],
    composed: ["composed", "Answer", "composed of sentences quoted from the documents, each cited."],
    extractive: [
      "extractive",
      "Quoted from the documents.",
      "The model's own sentence was not supported by them, so the best evidence is shown instead.",
    ],
    abstained: [
      "abstained",
      "No answer.",
      "The service abstained: the documents do not answer this question well enough to try" +
        (answer.answerability != null
          ? ` (the answerability check gives ${answer.answerability.toFixed(2)}).`
          : answer.evidence_score != null
            ? ` (best evidence score ${answer.evidence_score.toFixed(2)}).`
            : "."),
    ],
    no_documents: ["abstained", "No answer.", "Nothing indexed matches the question: upload a document first."],
    clarification: [
      "clarification",
      "A question back:",
      "the conversation does not settle what this refers to; answer it, or ask again more fully.",
    ],
  };
  return kinds[answer.answer_type] || ["generated", "Answer", ""];
}

// The answer's [n] markers become chips naming their sources; a chip opens the quoted chunk.
function answerNodes(answer) {
  const byMarker = new Map((answer.citations || []).map((c) => [c.marker, c]));
  const nodes = [];
  answer.answer.split(/\s*\[(\d+)\]/).forEach((part, i) => {
    if (i % 2 === 0) {
      if (part) nodes.push(part);
      return;
    }
    const citation = byMarker.get(Number(part));
    nodes.push(citation ? chip(citation) : `[${part}]`);
  });
  return nodes;
}

function citationItems(citations) {
  return citations.map((c) =>
    el(
      "li",
      {},
      chip(c),
      " ",
      el("q", {}, c.quote),
      el("span", { className: "muted small" }, ` score ${c.score.toFixed(2)}`),
    ),
  );
}

function showStandalone(target, answer) {
  const standalone = answer.standalone_question;
  target.textContent = standalone ? `Answered as: ${standalone}` : "";
  target.hidden = !standalone;
}

function renderAnswer(answer, streamed) {
  const target = $("#answer");
  target.classList.remove("cursor");
  target.replaceChildren(...answerNodes(answer));
  const [kind, label, note] = kindOf(answer);
  setKind(kind, label, note);
  $("#result").dataset.answerType = answer.answer_type;
  showStandalone($("#standalone"), answer);

  if (answer.answer_type === "extractive" && streamed.trim()) {
    $("#draft-text").textContent = streamed.trim();
    $("#draft").hidden = false;
  }
  $("#citations").replaceChildren(...citationItems(answer.citations || []));
}

function chipLabel(c) {
  const where = c.location ? `, ${c.location}` : c.page != null ? `, p. ${c.page}` : "";
  return `${basename(c.source)}${where}`;
}

// Text read by OCR may hold misread characters: the engine's confidence says how far to trust the quote.
function ocrNote(confidence) {
  return confidence != null ? `read by OCR, confidence ${Math.round(confidence * 100)}%` : null;
}

function chip(citation) {
  const button = el(
    "button",
    {
      type: "button",
      className: "chip",
      title: `Open the quoted passage in ${citation.source}`,
      dataset: { marker: citation.marker, chunk: citation.chunk_id },
    },
    el("span", { className: "marker" }, citation.marker),
    chipLabel(citation),
  );
  button.addEventListener("click", () => openCitation(citation, button));
  return button;
}

function renderTimings(t) {
  const parts = [];
  if (t.first_token_ms != null) parts.push(`first word after ${Math.round(t.first_token_ms)} ms`);
  if (t.total_ms != null) parts.push(`answered in ${(t.total_ms / 1000).toFixed(2)} s`);
  if (t.generated_tokens) parts.push(plural(t.generated_tokens, "token"));
  $("#timings").textContent = parts.join(" · ");
}

function setupAsk() {
  const question = $("#question");
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text) return;
    question.value = ""; // shown above as the question asked
    ask(text);
  });
  $("#new-conversation").addEventListener("click", () => {
    startConversation(null);
    question.focus();
  });
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("#ask-form").requestSubmit();
    }
  });
  $("#stop-button").addEventListener("click", () => asking && asking.abort());
}

// ---------------------------------------------------------------- the side panel

let panelOpener = null;

function openPanel(title, meta, body, opener) {
  panelOpener = opener || null;
  $("#panel-title").textContent = title;
  $("#panel-meta").replaceChildren(
    ...meta.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
  $("#panel-body").replaceChildren(...body);
  $("#panel").hidden = false;
  document.body.classList.add("panel-open");
  $("#panel-close").focus();
}

function closePanel() {
  $("#panel").hidden = true;
  document.body.classList.remove("panel-open");
  if (panelOpener && panelOpener.isConnected) panelOpener.focus();
  panelOpener = null;
}

// The chunk's text with the quoted sentence marked; both spans are offsets in the document's parsed text.
function highlighted(c) {
  let from = c.quote_start - c.start;
  let to = c.quote_end - c.start;
  if (!(from >= 0 && to <= c.text.length && c.text.slice(from, to) === c.quote)) {
    from = c.text.indexOf(c.quote);
    to = from + c.quote.length;
  }
  if (from < 0) return el("pre", { className: "chunk" }, c.text);
  return el("pre", { className: "chunk" }, c.text.slice(0, from), el("mark", {}, c.text.slice(from, to)), c.text.slice(to));
}

function openCitation(c, opener) {
  const whole = el("button", { type: "button", className: "link" }, "Show the whole document");
  whole.addEventListener("click", () => openDocument(c.document_id, c.chunk_id, opener));
  openPanel(
    chipLabel(c),
    [
      ["Source", c.source],
      ["Page", c.page],
      ["Location", c.location],
      ["Text", ocrNote(c.ocr_confidence)],
      ["Characters", `${c.start}–${c.end} (quote ${c.quote_start}–${c.quote_end})`],
      ["Score", c.score.toFixed(3)],
      ["Chunk", c.chunk_id],
    ],
    [highlighted(c), el("p", {}, whole)],
    opener,
  );
  const mark = $("#panel-body mark");
  if (mark) mark.scrollIntoView({ block: "center" });
}

async function openDocument(id, chunkId, opener) {
  let doc;
  try {
    doc = await getJSON(`/v1/documents/${encodeURIComponent(id)}?include_chunks=true`);
  } catch (error) {
    openPanel("Document", [], [el("p", { className: "error-text" }, error.message)], opener);
    return;
  }
  const chunks = doc.chunks.map((c) =>
    el(
      "section",
      { className: `doc-chunk${c.chunk_id === chunkId ? " cited" : ""}` },
      el(
        "div",
        { className: "muted small" },
        [
          `#${c.chunk_index + 1}`,
          c.page != null ? `page ${c.page}` : null,
          c.location,
          c.heading,
          ocrNote(c.ocr_confidence),
          `characters ${c.start}–${c.end}`,
        ]
          .filter(Boolean)
          .join(" · "),
      ),
      el("pre", { className: "chunk" }, c.text),
    ),
  );
  openPanel(
    basename(doc.source),
    [
      ["Source", doc.source],
      ["Version", doc.version],
      ["Status", doc.status],
      ["Type", `${doc.media_type}, ${formatBytes(doc.size_bytes)}`],
      ["Chunks", doc.chunk_count],
      ["Updated", new Date(doc.updated_at).toLocaleString()],
    ],
    chunks,
    opener,
  );
  const cited = $("#panel-body .cited");
  if (cited) cited.scrollIntoView({ block: "start" });
}

// ---------------------------------------------------------------- start

function refreshAll() {
  return Promise.all([loadHealth(), loadDocuments(), loadSources(), loadConversations()]);
}

document.addEventListener("DOMContentLoaded", () => {
  setupKey();
  setupDrop();
  setupAsk();
  $("#reload-docs").addEventListener("click", () => Promise.all([loadDocuments(), loadHealth()]));
  $("#reload-sources").addEventListener("click", loadSources);
  $("#reload-conversations").addEventListener("click", loadConversations);
  $("#panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#panel").hidden) closePanel();
  });
  // The conversation this browser was in reopens (if it is still there, in this key's collection).
  const resumed = localStorage.getItem(CONVERSATION_STORAGE);
  const reopened = resumed ? openConversation(resumed, { quiet: true }) : Promise.resolve();
  Promise.all([refreshAll(), reopened]).then(() => document.body.setAttribute("data-ready", ""));
  // Scheduled refreshes and other clients change the index too; keep the lists roughly current.
  setInterval(() => {
    if (document.visibilityState === "visible") refreshAll();
  }, 30000);
});
