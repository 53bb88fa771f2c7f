"""Folder sources: the index follows folders on disk without anyone uploading anything.

A refresh scans a source's folder and brings the index in step with it: new files are indexed, changed ones
get a new document version (the indexer's atomic version swap, so queries never see a mix), files that are
gone are removed. Cost follows change: a file whose size and mtime match the last run is not even read; one
whose bytes hash the same as before is not parsed or embedded.

Crash safety comes from the order of effects: a file's record is written only after its document version is
published, and a document is removed before its record. A run killed at any point leaves work the next run
recognises (content already indexed under that hash, or a record whose document is gone) and finishes.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath

from ingest.errors import IngestError, UnreadableDocument
from ingest.failpoints import failpoint
from ingest.indexer import Indexer, IngestOutcome, IngestResult, folder_document_name
from ingest.parsers import supported_suffixes
from rag.errors import Conflict, Forbidden, Unprocessable
from rag.store.registry import JobError, Registry, SourceFile, SourceRecord

log = logging.getLogger(__name__)

DEFAULT_INCLUDE = ["**/*"]


class SourceError(IngestError, Unprocessable):
    """A source cannot be registered as asked."""


# The kind comes first here, before SourceError's own (Unprocessable), so that it decides the status.
class SourceForbidden(Forbidden, SourceError):
    pass


class SourceConflict(Conflict, SourceError):
    pass


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Glob -> regex over '/'-separated relative paths: ``*`` stays within a folder, ``**/`` spans any depth.

    A pattern without '/' matches the file name at any depth, as in .gitignore (``*.md``).
    """
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


class FileFilter:
    """Include/exclude globs plus the file types the parsers accept."""

    def __init__(self, include: list[str], exclude: list[str]) -> None:
        self.include = [_glob_regex(p) for p in include or DEFAULT_INCLUDE]
        self.exclude = [_glob_regex(p) for p in exclude]
        self.suffixes = set(supported_suffixes())

    def wants(self, relative: str) -> bool:
        if PurePath(relative).suffix.lower() not in self.suffixes:
            return False
        return any(p.match(relative) for p in self.include) and not any(p.match(relative) for p in self.exclude)


@dataclass(frozen=True)
class ScannedFile:
    relative: str  # posix path relative to the source folder: the file's key in the registry
    path: Path
    size: int
    mtime_ns: int


def scan(root: Path, file_filter: FileFilter) -> Iterator[ScannedFile]:
    """Files under ``root`` that the filter wants, in a stable order. Hidden files and folders are skipped,
    and so is any link that leads outside the folder (a source must not expose files beyond its root)."""
    root = root.resolve()
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            relative = path.relative_to(root).as_posix()
            if not file_filter.wants(relative):
                continue
            try:
                if path.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                stat = path.stat()
            except OSError:
                continue  # vanished or unreadable between listing and stat: the next run sees it again
            if path.is_file():
                yield ScannedFile(relative, path, stat.st_size, stat.st_mtime_ns)


def check_source_path(path: str, roots: list[Path] | None) -> Path:
    """The folder a source may follow: absolute, existing, and inside the configured roots if any."""
    candidate = Path(path)
    if not candidate.is_absolute():
        raise SourceError(f"source path {path!r} must be absolute (the service's working directory is not yours)")
    resolved = candidate.resolve()
    if roots is not None and not any(resolved.is_relative_to(root.resolve()) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise SourceForbidden(f"{resolved} is outside the folders sources may follow ({allowed}; RAG_SOURCE_ROOTS)")
    if not resolved.is_dir():
        raise SourceError(f"{resolved} is not a folder this service can read")
    return resolved


def validate_globs(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not pattern or pattern.startswith("/") or ".." in PurePath(pattern).parts:
            raise SourceError(f"glob {pattern!r} must be a non-empty path relative to the folder, without '..'")
    return patterns


@dataclass
class RefreshCounts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = 0


@dataclass
class RefreshReport:
    counts: RefreshCounts = field(default_factory=RefreshCounts)
    errors: list[JobError] = field(default_factory=list)
    total: int = 0
    done: int = 0
    stopped: bool = False  # asked to stop before the end; the next run picks up the rest


def document_name(source: SourceRecord, relative: str) -> str:
    """What a source's file is indexed as: the folder's name, then the path inside it ("handbook/travel.md"), as
    ``rag ingest`` names the files of a folder."""
    return folder_document_name(Path(source.path), relative)


def legacy_name(source: SourceRecord, relative: str) -> str:
    """The file's name before names were relative (its absolute path), which older indexes still hold."""
    return str(Path(source.path) / relative)


class Refresher:
    """Brings the index in step with one source's folder (the caller holds the source's lease)."""

    def __init__(self, registry: Registry, indexer: Indexer) -> None:
        self.registry = registry
        self.indexer = indexer

    def release(self, source: SourceRecord, record: SourceFile) -> bool:
        """Drop a file's document unless other files are indexed as it or it is not the file's own (an upload
        with the same content). Returns whether a document was deleted."""
        if record.document_id is None or self.registry.files_referencing(record.document_id) > 1:
            return False
        document = self.registry.get(record.document_id)
        own = (document_name(source, record.path), legacy_name(source, record.path))
        if document is None or document.source not in own:
            return False
        return self.indexer.delete(record.document_id)

    def refresh(
        self,
        source: SourceRecord,
        progress: Callable[[RefreshReport], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> RefreshReport:
        report = RefreshReport()
        known = self.registry.source_files_of(source.id)
        root = Path(source.path)
        if not root.is_dir():
            report.errors.append(JobError(source=source.path, error="the folder does not exist or is not readable"))
            report.counts.failed += 1
            return report  # a missing folder (unmounted disk?) must not delete everything indexed from it
        files = list(scan(root, FileFilter(source.include, source.exclude)))
        report.total = len(files)
        visible = self.registry.visible_versions_all()
        # Documents still under their absolute path (indexed before names were relative) are read once more,
        # so that they are renamed (Indexer._prepare) even though their files did not change.
        absolute = str(root).rstrip("/") + "/"
        legacy = self.registry.document_ids_matching(source_prefix=absolute, collection=source.collection)
        last_progress = time.monotonic()

        def advance() -> None:
            nonlocal last_progress
            report.done += 1
            if progress and time.monotonic() - last_progress >= 1.0:
                last_progress = time.monotonic()
                progress(report)

        to_read: list[ScannedFile] = []
        for file in files:
            record = known.get(file.relative)
            if (
                record is not None
                and record.error is None
                and record.document_id in visible
                and record.document_id not in legacy
                and (record.size, record.mtime_ns) == (file.size, file.mtime_ns)
            ):
                report.counts.unchanged += 1
                advance()
            else:
                to_read.append(file)

        by_source = {document_name(source, f.relative): f for f in to_read}

        def on_result(document_source: str, result: IngestResult | IngestError) -> None:
            file = by_source[document_source]
            before = known.get(file.relative)
            if isinstance(result, IngestError):
                report.counts.failed += 1
                report.errors.append(JobError(source=file.relative, error=str(result)))
                # Keep what was indexed before (if anything) and forget size/mtime, so the next run retries.
                self.registry.put_source_file(
                    SourceFile(
                        source_id=source.id,
                        path=file.relative,
                        size=None,
                        mtime_ns=None,
                        content_hash=before.content_hash if before else None,
                        document_id=before.document_id if before else None,
                        error=str(result)[:2000],
                    )
                )
            else:
                document = result.document
                if before is None or before.document_id is None:
                    report.counts.added += 1
                elif before.content_hash == document.content_hash and before.document_id == document.id:
                    report.counts.unchanged += 1  # touched, same bytes
                else:
                    report.counts.updated += 1
                if result.outcome is not IngestOutcome.unchanged:
                    report.counts.chunks += document.chunk_count
                self.registry.put_source_file(
                    SourceFile(
                        source_id=source.id,
                        path=file.relative,
                        size=file.size,
                        mtime_ns=file.mtime_ns,
                        content_hash=document.content_hash,
                        document_id=document.id,
                        error=None,
                    )
                )
                if before is not None and before.document_id not in (None, document.id):
                    # The file's new content was already indexed elsewhere: its old document must not linger.
                    self.release(source, before)
            failpoint("refresh_after_file")
            advance()

        def items():
            for file in to_read:
                if should_stop():
                    report.stopped = True
                    return
                yield document_name(source, file.relative), _reader(file.path)

        renamed = {name: legacy_name(source, file.relative) for name, file in by_source.items()}
        self.indexer.ingest_many(items(), on_result, collection=source.collection, legacy=renamed)
        if report.stopped:
            return report

        present = {f.relative for f in files}
        for relative, record in known.items():
            if relative in present:
                continue
            if should_stop():
                report.stopped = True
                return report
            self.release(source, record)
            failpoint("refresh_after_delete")
            self.registry.delete_source_file(source.id, relative)
            report.counts.deleted += 1
        if progress:
            progress(report)
        return report


def _reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise UnreadableDocument(f"{path.name} disappeared while the folder was being refreshed") from exc

    return read


class Lease:
    """Holds a named registry lease while a block runs, renewing it from a thread so long work keeps it."""

    def __init__(self, registry: Registry, name: str, ttl_s: float) -> None:
        self.registry, self.name, self.ttl_s = registry, name, ttl_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.registry.try_lock(self.name, self.ttl_s):
            return False
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            if not self.registry.try_lock(self.name, self.ttl_s):
                log.error("lost lease %s to another process", self.name)
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.registry.release_lock(self.name)


def report_fields(report: RefreshReport) -> dict:
    """The job columns a refresh report fills."""
    return {"total": report.total, "done": report.done, "counts": asdict(report.counts), "errors": report.errors}
