"""What the API and the CLI do with folder sources: register, change, remove, refresh. One place for the rules."""

from __future__ import annotations

from pathlib import Path

from ingest.jobs import JobRunner
from ingest.sources import DEFAULT_INCLUDE, SourceConflict, check_source_path, validate_globs
from rag.store.registry import DEFAULT_COLLECTION, JobRecord, Registry, SourceRecord


class SourceService:
    def __init__(self, registry: Registry, jobs: JobRunner, roots: list[Path] | None) -> None:
        self.registry = registry
        self.jobs = jobs
        self.roots = roots

    def add(
        self,
        path: str,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        interval_s: int | None = None,
        refresh: bool = True,
        collection: str = DEFAULT_COLLECTION,
    ) -> tuple[SourceRecord, JobRecord | None]:
        """Register a folder for ``collection``; with ``refresh`` its first refresh is queued at once."""
        folder = str(check_source_path(path, self.roots))
        existing = self.registry.find_source_by_path(folder)
        if existing is not None and existing.collection != collection:
            # One folder, one collection; the other collection's source id is not this caller's to know.
            raise SourceConflict(f"{folder} is already followed by another collection; a folder can feed only one")
        if existing is not None:
            raise SourceConflict(f"{folder} is already a source (id {existing.id}); change it with PATCH instead")
        name = Path(folder).name
        namesake = next((s for s in self.registry.list_sources(collection) if Path(s.path).name == name), None)
        if namesake is not None:
            # Files are named after their folder ("handbook/travel.md"): the two would overwrite each other.
            raise SourceConflict(
                f"{namesake.path} is already a source of this collection with the same folder name {name!r}, and "
                "files are named after their folder, so the two would replace each other's documents; follow a "
                "folder above both (with include globs), or use another collection"
            )
        source = self.registry.create_source(
            folder,
            validate_globs(include or list(DEFAULT_INCLUDE)),
            validate_globs(exclude or []),
            interval_s,
            collection,
        )
        job = self.jobs.request_refresh(source)[0] if refresh else None
        return source, job

    def update(
        self,
        source: SourceRecord,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        interval_s: int | None = None,
        clear_interval: bool = False,
    ) -> SourceRecord:
        """Change globs or schedule; the next refresh indexes what the new globs take in and drops the rest."""
        values: dict = {}
        if include is not None:
            values["include"] = validate_globs(include)
        if exclude is not None:
            values["exclude"] = validate_globs(exclude)
        if interval_s is not None or clear_interval:
            values["interval_s"] = interval_s
        updated = self.registry.update_source(source.id, **values) if values else source
        assert updated is not None
        return updated

    def remove(self, source: SourceRecord, keep_documents: bool = False) -> None:
        """Forget the folder, and unless asked to keep them, remove the documents indexed from it."""
        active = self.registry.active_job(source.id)
        if active is not None:
            raise SourceConflict(
                f"a refresh of this source is {active.status.value} (job {active.id}); remove it when the job ends"
            )
        if not keep_documents:
            for record in self.registry.source_files_of(source.id).values():
                self.jobs.refresher.release(source, record)
                self.registry.delete_source_file(source.id, record.path)
        self.registry.delete_source(source.id)
