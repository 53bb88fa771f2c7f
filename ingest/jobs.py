"""Background work: upload jobs, and refresh jobs for folder sources, on demand and on a schedule.

Every job's state lives in the registry database, so any process can report on it; a job whose process died
is marked failed at the next start. Upload jobs run in the process that received the bytes, one at a time in
a worker thread (indexing is CPU-bound; two at once would only share the cores). Refresh jobs are queued in
the registry and claimed by whichever process runs a scheduler (the service by default, or `rag worker`); a
registry lease per source makes sure at most one refresh of a source runs at a time across all processes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ingest import ocr
from ingest.errors import IngestError
from ingest.indexer import Indexer, IngestCounts
from ingest.sources import Lease, Refresher, RefreshReport, report_fields
from rag import metrics
from rag.store.registry import (
    DEFAULT_COLLECTION,
    JobError,
    JobRecord,
    JobStatus,
    Registry,
    SourceRecord,
    source_lock_name,
)

log = logging.getLogger(__name__)

REFRESH = "refresh"


class JobRunner:
    def __init__(self, indexer: Indexer, registry: Registry, lock_ttl_s: float = 60.0) -> None:
        self.indexer = indexer
        self.registry = registry
        self.refresher = Refresher(registry, indexer)
        self.lock_ttl_s = lock_ttl_s
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit_upload(
        self, data: bytes, source: str, collection: str = DEFAULT_COLLECTION
    ) -> tuple[JobRecord, Future[None]]:
        job = self.registry.create_job("upload", f"index upload {source}", total=1, collection=collection)
        return job, self._pool.submit(self._run_upload, job.id, data, source, collection)

    def _observe(self, job_id: str, kind: str, started: float) -> None:
        """Count a job that stopped running, by the status it ended with, and its duration."""
        try:
            job = self.registry.get_job(job_id)
        except Exception:  # counting must never turn a finished job into an error
            job = None
        metrics.observe_job(kind, job.status.value if job else "unknown", started)

    def _run_upload(self, job_id: str, data: bytes, source: str, collection: str) -> None:
        started = time.perf_counter()
        try:
            self._index_upload(job_id, data, source, collection)
        finally:
            self._observe(job_id, "upload", started)

    def _index_upload(self, job_id: str, data: bytes, source: str, collection: str) -> None:
        self.registry.update_job(job_id, status=JobStatus.running)
        counts = IngestCounts()
        total = 1

        def pages_read(done: int, pages: int) -> None:
            """A file read by OCR counts its pages (done of total) instead of one file: OCR takes minutes."""
            nonlocal total
            total = pages
            self.registry.update_job(job_id, done=done, total=pages)

        try:
            with ocr.reporting_progress(pages_read):
                result = self.indexer.ingest_bytes(data, source, collection)
        except IngestError as exc:
            counts.failed = 1
            self.registry.update_job(
                job_id,
                status=JobStatus.failed,
                done=total,
                counts=vars(counts),
                errors=[JobError(source=source, error=str(exc))],
            )
        except Exception as exc:  # a bug, not bad input: keep the server up and the job honest
            log.exception("job %s failed", job_id)
            counts.failed = 1
            self.registry.update_job(
                job_id,
                status=JobStatus.failed,
                done=total,
                counts=vars(counts),
                errors=[JobError(source=source, error=f"internal error: {type(exc).__name__}: {exc}")],
            )
        else:
            counts.add(result)
            self.registry.update_job(
                job_id, status=JobStatus.succeeded, done=total, counts=vars(counts), document_id=result.document.id
            )

    # --- refresh jobs ---------------------------------------------------------------------------------

    def request_refresh(self, source: SourceRecord) -> tuple[JobRecord, bool]:
        """Queue a refresh of ``source`` unless one is queued or running already; (job, whether new)."""
        active = self.registry.active_job(source.id)
        if active is not None:
            return active, False
        job = self.registry.create_job(
            REFRESH, f"refresh {source.path}", source_id=source.id, owned=False, collection=source.collection
        )
        self._wake.set()
        return job, True

    def run_refresh(self, job: JobRecord) -> JobRecord | None:
        """Claim and run one queued refresh job here; None if its source is busy or another process took it."""
        assert job.source_id is not None
        lease = Lease(self.registry, source_lock_name(job.source_id), self.lock_ttl_s)
        if not lease.acquire():
            return None
        started = None
        try:
            if not self.registry.claim_job(job.id):
                return None
            started = time.perf_counter()
            source = self.registry.get_source(job.source_id)
            if source is None:
                self.registry.update_job(
                    job.id, status=JobStatus.failed, errors=[JobError(source="", error="the source was removed")]
                )
                return self.registry.get_job(job.id)

            def progress(report: RefreshReport) -> None:
                self.registry.update_job(job.id, **report_fields(report))

            try:
                report = self.refresher.refresh(source, progress, should_stop=self._stop.is_set)
            except Exception as exc:  # a bug or a broken store: record it, keep the scheduler alive
                log.exception("refresh job %s failed", job.id)
                self.registry.update_job(
                    job.id,
                    status=JobStatus.failed,
                    errors=[JobError(source=source.path, error=f"internal error: {type(exc).__name__}: {exc}")],
                )
                return self.registry.get_job(job.id)
            if report.stopped:  # shutting down: hand the job back so the next scheduler finishes it
                self.registry.update_job(job.id, status=JobStatus.queued, owner=None, **report_fields(report))
            else:
                # Per-file failures are reported in the job and retried next run; they do not fail the job.
                self.registry.update_job(job.id, status=JobStatus.succeeded, **report_fields(report))
            return self.registry.get_job(job.id)
        finally:
            lease.release()
            if started is not None:
                self._observe(job.id, REFRESH, started)

    def enqueue_due(self, now: dt.datetime | None = None) -> list[JobRecord]:
        """Queue a refresh for every scheduled source whose interval has passed since its last run ended."""
        now = now or dt.datetime.now(dt.timezone.utc)
        queued = []
        for source in self.registry.list_sources():
            if source.interval_s is None or self.registry.active_job(source.id) is not None:
                continue
            last = self.registry.last_finished_at(source.id)
            if last is None or (now - last).total_seconds() >= source.interval_s:
                queued.append(self.request_refresh(source)[0])
        return queued

    def run_pending(self) -> int:
        """One scheduler pass: clear jobs of dead processes, queue what is due, run the queued refresh jobs
        this process can take."""
        self.registry.fail_unfinished_jobs("interrupted: the process running the job stopped before it finished")
        self.enqueue_due()
        ran = 0
        for job in self.registry.queued_jobs(REFRESH):
            if self._stop.is_set():
                break
            if self.run_refresh(job) is not None:
                ran += 1
        return ran

    def serve(self, tick_s: float) -> None:
        """The scheduler loop: a pass every ``tick_s`` seconds, or at once when a refresh is requested here."""
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # the registry may be briefly unreachable; try again next tick
                log.exception("scheduler pass failed")
            self._wake.wait(tick_s)
            self._wake.clear()

    def watch(self, tick_s: float, debounce_ms: int = 1600) -> None:
        """Request a refresh of a source soon after something changes in its folder (watchfiles: inotify and
        the like). The schedule stays the backstop for changes a watcher misses (network drives)."""
        from watchfiles import watch

        while not self._stop.is_set():
            sources = [s for s in self.registry.list_sources() if Path(s.path).is_dir()]
            if not sources:
                self._stop.wait(tick_s)
                continue
            known = {s.id for s in sources}
            for changes in watch(
                *(s.path for s in sources),
                stop_event=self._stop,
                debounce=debounce_ms,
                rust_timeout=int(tick_s * 1000),
                yield_on_timeout=True,
            ):
                touched = [Path(path) for _, path in changes]
                for source in sources:
                    if any(path.is_relative_to(source.path) for path in touched):
                        self.request_refresh(source)
                if {s.id for s in self.registry.list_sources()} != known:
                    break  # sources were added or removed: watch the new set

    def start_scheduler(self, tick_s: float, watch: bool = False) -> None:
        self._threads = [threading.Thread(target=self.serve, args=(tick_s,), name="refresh-scheduler", daemon=True)]
        if watch:
            self._threads.append(threading.Thread(target=self.watch, args=(tick_s,), name="source-watch", daemon=True))
        for thread in self._threads:
            thread.start()

    def shutdown(self, wait: bool = True) -> None:
        """Stop at a safe point: the running refresh hands its job back, a running upload finishes."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
