"""Background ingestion: the request returns a job id at once, the work runs here, progress is in the registry.

Jobs run one at a time in a worker thread (indexing is CPU-bound; two at once would only share the cores).
Their state lives in the registry database, so any process can report on them; a job whose process died is
marked failed at the next start.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from ingest.errors import IngestError
from ingest.indexer import Indexer, IngestCounts
from rag.store.registry import JobError, JobRecord, JobStatus, Registry

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, indexer: Indexer, registry: Registry) -> None:
        self.indexer = indexer
        self.registry = registry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-job")

    def submit_upload(self, data: bytes, source: str) -> tuple[JobRecord, Future[None]]:
        job = self.registry.create_job("upload", f"index upload {source}", total=1)
        return job, self._pool.submit(self._run_upload, job.id, data, source)

    def _run_upload(self, job_id: str, data: bytes, source: str) -> None:
        self.registry.update_job(job_id, status=JobStatus.running)
        counts = IngestCounts()
        try:
            result = self.indexer.ingest_bytes(data, source)
        except IngestError as exc:
            counts.failed = 1
            self.registry.update_job(
                job_id,
                status=JobStatus.failed,
                done=1,
                counts=vars(counts),
                errors=[JobError(source=source, error=str(exc))],
            )
        except Exception as exc:  # a bug, not bad input: keep the server up and the job honest
            log.exception("job %s failed", job_id)
            counts.failed = 1
            self.registry.update_job(
                job_id,
                status=JobStatus.failed,
                done=1,
                counts=vars(counts),
                errors=[JobError(source=source, error=f"internal error: {type(exc).__name__}: {exc}")],
            )
        else:
            counts.add(result)
            self.registry.update_job(
                job_id, status=JobStatus.succeeded, done=1, counts=vars(counts), document_id=result.document.id
            )

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
