"""Jobs: units of background work (an upload to index, a folder refresh), who runs them and how far they got."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from rag.store.owners import current_owner, owner_alive
from rag.store.records import DEFAULT_COLLECTION, JobError, JobRecord, JobStatus, as_utc
from rag.store.registry.base import RegistryPart, new_id
from rag.store.registry.locks import source_lock_name
from rag.store.registry.schema import clip, jobs, locks, now

_UNFINISHED = (JobStatus.queued.value, JobStatus.running.value)


class Jobs(RegistryPart):
    def create_job(
        self,
        kind: str,
        description: str,
        total: int = 0,
        *,
        source_id: str | None = None,
        owned: bool = True,
        collection: str = DEFAULT_COLLECTION,
    ) -> JobRecord:
        """A queued job. ``owned``: only this process can run it (its input is in this process's memory);
        otherwise any worker sharing the registry may claim it."""
        row = {
            "id": new_id(),
            "kind": kind,
            "status": JobStatus.queued.value,
            "description": clip(description, 1024),
            "total": total,
            "done": 0,
            "counts": {},
            "errors": [],
            "document_id": None,
            "created_at": now(),
            "started_at": None,
            "finished_at": None,
            "source_id": source_id,
            "collection": collection,
        }
        return self._add(jobs, JobRecord, row, owner=current_owner() if owned else None)

    def claim_job(self, job_id: str) -> bool:
        """Take a queued job for this process; False if another process took it first."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.queued.value)
                .values(status=JobStatus.running.value, owner=current_owner(), started_at=now())
            ).rowcount
        return claimed == 1

    def queued_jobs(self, kind: str) -> list[JobRecord]:
        """Jobs of ``kind`` waiting for any worker, oldest first."""
        stmt = (
            select(jobs)
            .where(jobs.c.kind == kind, jobs.c.status == JobStatus.queued.value, jobs.c.owner.is_(None))
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        return self._all(stmt, JobRecord)

    def active_job(self, source_id: str) -> JobRecord | None:
        """The queued or running job of a source, if any."""
        stmt = (
            select(jobs)
            .where(jobs.c.source_id == source_id, jobs.c.status.in_(_UNFINISHED))
            .order_by(jobs.c.created_at)
            .limit(1)
        )
        return self._first(stmt, JobRecord)

    def last_job(self, source_id: str) -> JobRecord | None:
        stmt = select(jobs).where(jobs.c.source_id == source_id).order_by(jobs.c.created_at.desc()).limit(1)
        return self._first(stmt, JobRecord)

    def last_finished_at(self, source_id: str) -> dt.datetime | None:
        """When the source's last refresh (of any outcome) ended: the schedule counts from there."""
        stmt = (
            select(jobs.c.finished_at)
            .where(jobs.c.source_id == source_id, jobs.c.finished_at.is_not(None))
            .order_by(jobs.c.finished_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            value = conn.execute(stmt).scalar()
        return as_utc(value) if value else None

    def update_job(self, job_id: str, **values) -> None:
        """Set columns of a job; ``status`` given as a JobStatus also stamps start and finish times."""
        status = values.get("status")
        if isinstance(status, JobStatus):
            values["status"] = status.value
            if status is JobStatus.running:
                values.setdefault("started_at", now())
            if status in (JobStatus.succeeded, JobStatus.failed):
                values.setdefault("finished_at", now())
        if "errors" in values:
            values["errors"] = [e.model_dump() if isinstance(e, JobError) else e for e in values["errors"]]
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def get_job(self, job_id: str) -> JobRecord | None:
        return self._first(select(jobs).where(jobs.c.id == job_id), JobRecord)

    def list_jobs(
        self,
        limit: int = 50,
        *,
        source_id: str | None = None,
        kind: str | None = None,
        collection: str | None = None,
    ) -> list[JobRecord]:
        stmt = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        if collection is not None:
            stmt = stmt.where(jobs.c.collection == collection)
        if source_id is not None:
            stmt = stmt.where(jobs.c.source_id == source_id)
        if kind is not None:
            stmt = stmt.where(jobs.c.kind == kind)
        return self._all(stmt, JobRecord)

    def fail_unfinished_jobs(self, reason: str) -> int:
        """Jobs whose process died can never finish; say so instead of showing them running forever.

        Only jobs of owners known to be gone: another live process sharing this registry keeps its jobs, and
        unowned queued jobs stay queued for any worker to claim. A running job that holds a lease (a refresh)
        is also gone once its lease has lapsed: that is how a dead owner on another host is noticed.
        """
        checked_at = now()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.owner, jobs.c.status, jobs.c.source_id).where(jobs.c.status.in_(_UNFINISHED))
            ).all()
            leases = {row.name: row for row in conn.execute(select(locks))}

        def gone(row) -> bool:
            if row.owner is None:
                return False
            if not owner_alive(row.owner):
                return True
            if row.status == JobStatus.running.value and row.source_id is not None:
                lease = leases.get(source_lock_name(row.source_id))
                return lease is None or lease.owner != row.owner or as_utc(lease.expires_at) < checked_at
            return False

        dead = [row.id for row in rows if gone(row)]
        if not dead:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(
                update(jobs)
                .where(jobs.c.id.in_(dead), jobs.c.status.in_(_UNFINISHED))
                .values(
                    status=JobStatus.failed.value,
                    finished_at=now(),
                    errors=[JobError(source="", error=reason).model_dump()],
                )
            ).rowcount
