"""A TinyDB table split into small segment files, so a write or a lookup costs one small file.

Layout of one table directory:
    seg-000042.json   TinyDB file holding ids <P>-000042-0000 .. -<capacity-1>, one record a
                      line, so a lookup parses one record, not the segment
    summary/cNNNN.json  per segment (64 to a file), how many records fall in each facet;
                      read lazily, newest file first, so a first page reads one of them
    index/bNNN.json     customer id -> its newest record ids (and its flagged, e.g. open, ids);
                      4096 buckets, so a bucket stays a few kB up to ~10^5 customers
    pages/<h>-NNNNNN.json  a busy customer's older ids, 64 to a page, written once and flushed
    .lock             flock'd by every operation; holds the id counter, a generation number
                      (bumped by every write, so other processes drop stale caches) and the
                      intent of the write in flight (a crash leaves it behind, the next
                      operation repairs the one segment and one customer it names), and the
                      records per facet over the whole table, replaced in the same write
                      that clears the intent, so counts and filters need no summary file
Every file is replaced atomically (tmp + rename), so each one always loads. Segments are the
truth and are also flushed (fsync); summary and index are derived, not flushed, and rebuilt from
the segments after a reboot (the journal remembers the boot id) or when found inconsistent.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from core.store.atomic import atomic_write_bytes

JSON = dict[str, Any]
TABLE = "records"
BUCKETS = 4096
# Bumped when the index layout changes: an older store rebuilds its index once on open.
INDEX_FORMAT = 2
# A customer's entry keeps at most 2 * PAGE_IDS ids; older ones move to page files.
PAGE_IDS = 64
SUMMARY_CHUNK = 64
# Records per group commit of add_many: one flushed write per segment they touch.
GROUP_COMMIT = 256
REBOOT_WINDOW_S = 3600.0
_CHUNK_NAME = re.compile(r"^c(\d{4,})\.json$")
_SEGMENT_NAME = re.compile(r"^seg-(\d{6,})\.json$")


class StoreError(RuntimeError):
    """A state file that cannot be read; the message names the file and what to do."""


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _dumps_tables(data: dict[str, dict[str, Any]]) -> bytes:
    """TinyDB's document, one document a line: JSON escapes newlines inside values, so a line
    that starts with `"<doc id>":` is always that document and can be parsed on its own."""
    tables = []
    for name, docs in data.items():
        lines = ",\n".join(f"{json.dumps(str(k))}:{_dumps(v).decode('utf-8')}"
                           for k, v in docs.items())
        tables.append(f"{json.dumps(name)}:{{\n{lines}\n}}")
    return ("{" + ",".join(tables) + "}").encode("utf-8")


_LINE_FORMAT = b'{"' + TABLE.encode() + b'":{\n'


def _load_record(
    path: Path, doc_id: int, seen: dict[int, bytes] | None = None, key: int = -1
) -> JSON | None:
    """One document of a segment file without parsing the others (None: not there).

    `seen` keeps the bytes of files already read, for a caller reading several records.
    """
    raw = seen.get(key) if seen is not None else None
    if raw is None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        if seen is not None:
            seen[key] = raw
    if not raw.startswith(_LINE_FORMAT):
        # Written before documents went one a line: parse it whole.
        data = _load_json(path)
        docs = data.get(TABLE) if isinstance(data, dict) else None
        found = docs.get(str(doc_id)) if isinstance(docs, dict) else None
        return dict(found) if isinstance(found, dict) else None
    start = raw.find(b'\n"%d":' % doc_id)
    if start < 0:
        return None
    end = raw.find(b"\n", start + 1)
    line = raw[start + 1:end if end >= 0 else len(raw)].rstrip(b",")
    try:
        found = json.loads(b"{" + line + b"}").get(str(doc_id))
    except ValueError:
        raise StoreError(
            f"{path} is not valid JSON near document {doc_id}; move it aside and reopen to "
            "rebuild"
        ) from None
    return found if isinstance(found, dict) else None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _write_file(path: Path, data: bytes, *, durable: bool) -> None:
    """Every store file is written here (tests stop a process at this point)."""
    atomic_write_bytes(path, data, durable=durable)


def _load_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StoreError(
            f"{path} is not valid JSON ({exc}); move it aside and reopen to rebuild"
        ) from None


class AtomicJSONStorage(Storage):
    """TinyDB storage: whole-file atomic replace on write, parsed data kept in memory."""

    def __init__(self, path: str, *, cache: bool = True, durable: bool = True) -> None:
        self.path = Path(path)
        self._cache = cache
        self._durable = durable
        self._data: dict[str, dict[str, Any]] | None = None

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._data is None:
            data = _load_json(self.path)
            if data is not None and not isinstance(data, dict):
                raise StoreError(f"{self.path} does not hold a TinyDB document table")
            if not self._cache:
                return data
            self._data = data
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            _write_file(self.path, _dumps_tables(data), durable=self._durable)
        except BaseException:
            # TinyDB mutated the cached dict before calling us; it no longer matches the file.
            self._data = None
            raise
        self._data = data if self._cache else None

    def close(self) -> None:
        self._data = None


@dataclass(frozen=True, order=True)
class RecordId:
    """Where a record lives: its segment and its slot in that segment."""

    segment: int
    slot: int

    def format(self, prefix: str) -> str:
        return f"{prefix}-{self.segment:06d}-{self.slot:04d}"


class _Journal:
    """The table's .lock file: cross-process lock plus counter, generation and intent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pid = -1
        self._fd = -1
        self._reopen()

    def _reopen(self) -> None:
        # A forked child shares the parent's open file description, and with it the flock.
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._pid = os.getpid()

    def lock(self) -> None:
        if self._pid != os.getpid():
            self._reopen()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self) -> JSON | None:
        """The journal state; {} when new, None when unreadable (a torn write)."""
        raw = os.pread(self._fd, 1 << 16, 0)
        if not raw.strip():
            return {}
        try:
            state = json.loads(raw)
        except ValueError:
            return None
        return state if isinstance(state, dict) else None

    def write(self, state: JSON) -> None:
        raw = _dumps(state)
        size = os.fstat(self._fd).st_size
        # Padding to the old size means no truncate step that a crash could split from the write.
        os.pwrite(self._fd, raw.ljust(size), 0)

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1


Facet = Callable[[JSON], str]
Flag = Callable[[JSON], bool]


class SegmentedTable:
    """Records keyed by `<prefix>-<segment>-<slot>` ids, with a customer index and facet counts."""

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        capacity: int,
        facet: Facet,
        flag: Flag | None = None,
        cached_segments: int = 8,
        cached_buckets: int = 64,
        durable: bool = True,
    ) -> None:
        if not 1 <= capacity <= 9999:
            raise ValueError("segment capacity must be between 1 and 9999")
        self.directory = Path(directory)
        self.prefix = prefix
        self.capacity = capacity
        self._facet = facet
        self._flag = flag
        self._id_pattern = re.compile(rf"^{re.escape(prefix)}-(\d{{6,}})-(\d{{4}})$")
        self._index_dir = self.directory / "index"
        self._index_dir.mkdir(parents=True, exist_ok=True)
        self._journal = _Journal(self.directory / ".lock")
        self._mutex = threading.RLock()
        self._segments: OrderedDict[int, TinyDB] = OrderedDict()
        self._buckets: OrderedDict[int, JSON] = OrderedDict()
        # Summary chunk number -> {segment: facet counts}; each file loaded when first needed.
        self._chunks: dict[int, dict[int, dict[str, int]]] = {}
        self._durable = durable
        self._cached_segments = cached_segments
        self._cached_buckets = cached_buckets
        self._gen: int | None = None
        # Index and summary are rebuilt from the segments after a reboot, so only segments pay
        # for fsync; a killed process cannot lose page-cache writes.
        self._boot = _boot_id()
        self._summary_dir = self.directory / "summary"
        self._summary_dir.mkdir(exist_ok=True)
        self._pages_dir = self.directory / "pages"
        self._pages_dir.mkdir(exist_ok=True)
        with self._locked(opening=True):
            pass

    # ---------------------------------------------------------------- ids

    def parse_id(self, record_id: str) -> RecordId | None:
        match = self._id_pattern.match(record_id) if isinstance(record_id, str) else None
        if match is None:
            return None
        slot = int(match.group(2))
        return RecordId(int(match.group(1)), slot) if slot < 9999 else None

    def _sort_key(self, record_id: str) -> RecordId:
        rid = self.parse_id(record_id)
        return rid if rid is not None else RecordId(-1, -1)

    def new_id(self) -> str:
        """Reserve a fresh id, unique across threads, processes and restarts."""
        with self._locked() as state:
            segment, slot = _next_of(state)
            if slot >= self.capacity:
                segment, slot = segment + 1, 0
            state["next"] = [segment, slot + 1]
            self._journal.write(state)
            return RecordId(segment, slot).format(self.prefix)

    # ---------------------------------------------------------------- locking and caches

    @contextlib.contextmanager
    def _locked(self, *, opening: bool = False) -> Iterator[JSON]:
        with self._mutex:
            self._journal.lock()
            try:
                state = self._journal.read()
                if state is None:
                    state = {"next": [0, 0], "gen": 0, "intent": None}
                    self._drop_caches()
                    self._rebuild(state)
                elif state.get("gen") != self._gen:
                    self._drop_caches()
                    self._gen = state.get("gen")
                if state.get("intent"):
                    self._repair(state)
                if opening:
                    # After the repair: a crash on a segment's first record is not a mismatch.
                    self._check_on_open(state)
                if not isinstance(state.get("totals"), dict):
                    # A store written before totals lived in the journal: sum them once.
                    state["totals"] = self._sum_summary()
                    self._journal.write(state)
                yield state
            finally:
                self._journal.unlock()

    def _drop_caches(self) -> None:
        for db in self._segments.values():
            db.close()
        self._segments.clear()
        self._buckets.clear()
        self._chunks.clear()

    @contextlib.contextmanager
    def _writing(self, state: JSON, intent: JSON) -> Iterator[None]:
        state["intent"] = intent
        self._journal.write(state)
        try:
            yield
        except BaseException:
            # Leave the intent: the next operation (here or in another process) repairs it.
            self._drop_caches()
            raise
        self._finish(state)

    def _finish(self, state: JSON) -> None:
        state["intent"] = None
        state["gen"] = int(state.get("gen") or 0) + 1
        self._gen = state["gen"]
        self._journal.write(state)

    # ---------------------------------------------------------------- files

    def _segment_path(self, segment: int) -> Path:
        return self.directory / f"seg-{segment:06d}.json"

    def _segment(self, segment: int) -> Any:
        db = self._segments.get(segment)
        if db is None:
            db = TinyDB(
                str(self._segment_path(segment)), storage=AtomicJSONStorage, durable=self._durable
            )
            self._segments[segment] = db
            while len(self._segments) > self._cached_segments:
                self._segments.popitem(last=False)[1].close()
        else:
            self._segments.move_to_end(segment)
        return db.table(TABLE)

    def _segments_on_disk(self) -> list[int]:
        found = []
        for name in os.listdir(self.directory):
            match = _SEGMENT_NAME.match(name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def _bucket_no(self, customer_id: str) -> int:
        return zlib.crc32(customer_id.encode("utf-8")) % BUCKETS

    def _bucket_path(self, number: int) -> Path:
        return self._index_dir / f"b{number:03d}.json"

    def _bucket(self, number: int) -> JSON:
        bucket = self._buckets.get(number)
        if bucket is None:
            try:
                loaded = _load_json(self._bucket_path(number))
            except StoreError:
                raise StoreError(
                    f"{self._bucket_path(number)} is damaged; delete the folder "
                    f"{self._index_dir} and reopen to rebuild it from the records"
                ) from None
            bucket = loaded if isinstance(loaded, dict) else {}
            self._buckets[number] = bucket
            while len(self._buckets) > self._cached_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(number)
        return bucket

    def _write_bucket(self, number: int, bucket: JSON) -> None:
        try:
            _write_file(self._bucket_path(number), _dumps(bucket), durable=False)
        except BaseException:
            self._buckets.pop(number, None)
            raise

    def _page_path(self, customer: str, page: int) -> Path:
        key = hashlib.sha1(customer.encode("utf-8")).hexdigest()[:20]
        return self._pages_dir / f"{key}-{page:06d}.json"

    def _page(self, customer: str, page: int) -> list[str]:
        path = self._page_path(customer, page)
        loaded = _load_json(path)
        if not isinstance(loaded, list):
            raise StoreError(
                f"{path} is missing or damaged; delete the folders {self._index_dir} and "
                f"{self._pages_dir} and reopen to rebuild them from the records"
            )
        return [str(i) for i in loaded]

    def _paged_ids(self, customer: str, entry: JSON) -> list[str]:
        """Every id the customer's pages hold, oldest first."""
        out: list[str] = []
        for page in range(int(entry.get("pages", 0))):
            out.extend(self._page(customer, page))
        return out

    def _index_add(self, customer: str, entry: JSON, record: JSON) -> None:
        """Put a new record's id into its customer's entry, moving the oldest ids to a page."""
        _insert_sorted(entry["ids"], str(record["id"]), self._sort_key)
        if self._flag is not None:
            flagged = entry.setdefault("open", [])
            if self._flag(record):
                _insert_sorted(flagged, str(record["id"]), self._sort_key)
        self._spill(customer, entry, durable=self._durable)

    def _spill(self, customer: str, entry: JSON, *, durable: bool) -> None:
        ids = entry["ids"]
        while len(ids) >= 2 * PAGE_IDS:
            page = int(entry.get("pages", 0))
            # Flushed before the entry drops the ids: the reboot repair only re-derives recent
            # segments, and these ids may be old. A page is written once, so this is rare.
            _write_file(self._page_path(customer, page), _dumps(ids[:PAGE_IDS]), durable=durable)
            del ids[:PAGE_IDS]
            entry["pages"] = page + 1

    def _chunk_path(self, chunk: int) -> Path:
        return self._summary_dir / f"c{chunk:04d}.json"

    def _chunk(self, chunk: int) -> dict[int, dict[str, int]]:
        """The facet counts of the 64 segments of one summary file (empty when it is absent)."""
        loaded = self._chunks.get(chunk)
        if loaded is None:
            path = self._chunk_path(chunk)
            raw = _load_json(path)
            if raw is None:
                raw = {}
            if not isinstance(raw, dict):
                raise StoreError(f"{path} is not a summary; move it aside and reopen to rebuild")
            loaded = {int(k): dict(v) for k, v in raw.items()}
            self._chunks[chunk] = loaded
        return loaded

    def _counts_of(self, segment: int) -> dict[str, int]:
        """The live facet counts of `segment`, created empty (callers mutate them)."""
        return self._chunk(segment // SUMMARY_CHUNK).setdefault(segment, {})

    def _load_summary(self) -> dict[int, dict[str, int]]:
        """Every segment's counts: reads every summary file (open checks, verify, rebuild)."""
        summary: dict[int, dict[str, int]] = {}
        for name in sorted(os.listdir(self._summary_dir)):
            match = _CHUNK_NAME.match(name)
            if match:
                summary.update(self._chunk(int(match.group(1))))
        return {segment: counts for segment, counts in summary.items() if counts}

    def _sum_summary(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self._load_summary().values():
            _add_counts(totals, counts, 1)
        return totals

    def _write_summary(self, segment: int) -> None:
        """Write the summary file that holds `segment`'s counts."""
        chunk = segment // SUMMARY_CHUNK
        first = chunk * SUMMARY_CHUNK
        counts = self._chunk(chunk)
        data = _dumps({
            str(k): counts[k] for k in range(first, first + SUMMARY_CHUNK) if counts.get(k)
        })
        try:
            _write_file(self._chunk_path(chunk), data, durable=False)
        except BaseException:
            self._chunks.pop(chunk, None)
            raise

    def _before(self, segments: Sequence[int]) -> JSON:
        """The summary counts of `segments` before a write, for the intent: the repair of a
        crashed write corrects the journal's totals by (counts found) - (counts before)."""
        return {str(segment): dict(self._counts_of(segment)) for segment in segments}

    # ---------------------------------------------------------------- recovery

    def _check_on_open(self, state: JSON) -> None:
        for folder in (self.directory, self._index_dir, self._summary_dir, self._pages_dir):
            for name in os.listdir(folder):
                # Leftovers of writers killed mid-write; we hold the lock, so none is in flight.
                if name.startswith(".") and name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder / name)
        on_disk = self._segments_on_disk()
        rebooted = self._boot is not None and state.get("boot") not in (None, self._boot)
        try:
            summary = self._load_summary()
        except StoreError:
            summary = None
        index_missing = on_disk and not any(self._index_dir.iterdir())
        old_format = state.get("index") != INDEX_FORMAT
        if summary is None or sorted(summary) != on_disk or index_missing or old_format:
            self._rebuild(state)
        elif rebooted:
            self._after_reboot(state, on_disk)
        if on_disk:
            self._advance_next(state, on_disk[-1])
        if self._boot is not None and state.get("boot") != self._boot:
            # Only once the checks above are done: a crash during them repeats them.
            state["boot"] = self._boot
            self._journal.write(state)

    def _advance_next(self, state: JSON, segment: int) -> None:
        """Move the id counter past the records of `segment`: a lost counter must not reuse ids."""
        slots = [int(doc.doc_id) - 1 for doc in self._segment(segment).all()]
        if slots:
            _bump_next(state, RecordId(segment, max(slots)))
            self._journal.write(state)

    def _repair(self, state: JSON) -> None:
        """Finish the derived files of a write that died: one segment's counts, one customer."""
        intent = state["intent"]
        self._drop_caches()
        segments = intent.get("segments", [intent.get("segment")])
        customers = {str(c) for c in intent.get("customers", [intent.get("customer")])}
        before = intent.get("before")
        totals = state.get("totals")
        if not isinstance(before, dict) or not isinstance(totals, dict):
            # Written by a version without totals in the journal: sum them below.
            before, totals = {}, None
            state.pop("totals", None)
        for segment in segments:
            counts = self._repair_segment(state, int(segment), customers)
            if counts is None:
                return
            if totals is not None:
                _add_counts(totals, before.get(str(segment)) or {}, -1)
                _add_counts(totals, counts, 1)
        if totals is None:
            state["totals"] = self._sum_summary()
        self._finish(state)

    def _repair_segment(
        self, state: JSON, segment: int, customers: set[str] | None
    ) -> dict[str, int] | None:
        """Make summary and index agree with one segment for `customers` (None: all in it).

        Returns the segment's facet counts, or None when a derived file was unreadable and
        everything was rebuilt instead.
        """
        docs = [dict(d) for d in self._segment(segment).all()]
        if customers is None:
            customers = {str(d.get("customer_id")) for d in docs}
        try:
            summary = self._chunk(segment // SUMMARY_CHUNK)
            buckets = {n: self._bucket(n) for n in {self._bucket_no(c) for c in customers}}
            paged = {
                c: set(self._paged_ids(c, buckets[self._bucket_no(c)].get(c) or {}))
                for c in customers
            }
        except StoreError:
            # Damaged from outside (every write replaces atomically): rebuild, don't patch.
            self._rebuild(state)
            return None
        counts: dict[str, int] = {}
        for doc in docs:
            key = self._facet(doc)
            counts[key] = counts.get(key, 0) + 1
        if summary.get(segment, {}) != counts:
            if counts:
                summary[segment] = counts
            else:
                summary.pop(segment, None)
            self._write_summary(segment)
        changed: set[int] = set()
        for customer in customers:
            bucket = buckets[self._bucket_no(customer)]
            entry = bucket.get(customer) or {"ids": []}
            mine = [d for d in docs if d.get("customer_id") == customer]
            ids = [i for i in entry["ids"] if self._sort_key(i).segment != segment]
            ids += [str(d["id"]) for d in mine if str(d["id"]) not in paged[customer]]
            new_entry: JSON = {"ids": sorted(set(ids), key=self._sort_key)}
            if self._flag is not None:
                flagged = [i for i in entry.get("open", []) if self._sort_key(i).segment != segment]
                flagged += [str(d["id"]) for d in mine if self._flag(d)]
                new_entry["open"] = sorted(set(flagged), key=self._sort_key)
            if entry.get("pages"):
                new_entry["pages"] = entry["pages"]
            keep = bool(new_entry["ids"] or new_entry.get("pages"))
            if bucket.get(customer) != (new_entry if keep else None):
                if keep:
                    bucket[customer] = new_entry
                else:
                    bucket.pop(customer, None)
                changed.add(self._bucket_no(customer))
        for number in changed:
            self._write_bucket(number, buckets[number])
        if docs:
            _bump_next(state, max(self._sort_key(str(d["id"])) for d in docs))
        return counts

    def _after_reboot(self, state: JSON, on_disk: list[int]) -> None:
        """Re-derive what the last unflushed writes may have lost: the recently written segments.

        Unflushed writes reach the disk within seconds (Linux writes dirty pages back after
        30 s), so segments written in the hour before the newest one cover every lost write.
        """
        try:
            for number in range(BUCKETS):
                self._bucket(number)
        except StoreError:
            self._rebuild(state)
            return
        mtimes = {k: self._segment_path(k).stat().st_mtime for k in on_disk}
        newest = max(mtimes.values())
        for segment in on_disk:
            recent = mtimes[segment] >= newest - REBOOT_WINDOW_S
            if recent and self._repair_segment(state, segment, None) is None:
                return
        # The journal is not flushed either: its totals may predate the lost writes.
        state["totals"] = self._sum_summary()
        self._finish(state)

    def _rebuild(self, state: JSON) -> None:
        """Recompute summary and every index bucket from the segments."""
        self._drop_caches()
        summary: dict[int, dict[str, int]] = {}
        buckets: dict[int, JSON] = {n: {} for n in range(BUCKETS)}
        top: RecordId | None = None
        for segment in self._segments_on_disk():
            counts: dict[str, int] = {}
            db = TinyDB(str(self._segment_path(segment)), storage=AtomicJSONStorage, cache=False)
            for doc in sorted(db.table(TABLE).all(), key=lambda d: int(d.doc_id)):
                key = self._facet(doc)
                counts[key] = counts.get(key, 0) + 1
                record_id = str(doc["id"])
                customer = str(doc.get("customer_id"))
                entry = buckets[self._bucket_no(customer)].setdefault(customer, {"ids": []})
                entry["ids"].append(record_id)
                if self._flag is not None:
                    flagged = entry.setdefault("open", [])
                    if self._flag(doc):
                        flagged.append(record_id)
                rid = RecordId(segment, int(doc.doc_id) - 1)
                top = rid if top is None or rid > top else top
            if counts:
                summary[segment] = counts
        for name in os.listdir(self._pages_dir):
            os.unlink(self._pages_dir / name)
        paged = False
        for number, bucket in buckets.items():
            for customer, entry in bucket.items():
                paged = paged or len(entry["ids"]) >= 2 * PAGE_IDS
                self._spill(customer, entry, durable=False)
            if bucket or self._bucket_path(number).exists():
                _write_file(self._bucket_path(number), _dumps(bucket), durable=False)
        if paged and self._durable:
            # Pages must outlive a power cut (see _spill); one sync instead of one per page.
            os.sync()
        for segment, counts in summary.items():
            self._chunks.setdefault(segment // SUMMARY_CHUNK, {})[segment] = counts
        for chunk in self._chunks:
            self._write_summary(chunk * SUMMARY_CHUNK)
        for name in os.listdir(self._summary_dir):
            match = _CHUNK_NAME.match(name)
            if match and int(match.group(1)) not in self._chunks:
                os.unlink(self._summary_dir / name)
        totals: dict[str, int] = {}
        for counts in summary.values():
            _add_counts(totals, counts, 1)
        state["totals"] = totals
        if top is not None:
            _bump_next(state, top)
        state["index"] = INDEX_FORMAT
        self._finish(state)

    def rebuild(self) -> None:
        """Recompute the derived files from the segments (slow: reads every record)."""
        with self._locked() as state:
            self._rebuild(state)

    def verify(self) -> list[str]:
        """Differences between the derived files and the segments, in words (empty = consistent)."""
        with self._locked() as state:
            problems: list[str] = []
            summary = self._load_summary()
            summed: dict[str, int] = {}
            for segment_counts in summary.values():
                _add_counts(summed, segment_counts, 1)
            if state.get("totals") != summed:
                problems.append(f"journal totals are {state.get('totals')}, summary says {summed}")
            expected: dict[str, JSON] = {}
            for segment in self._segments_on_disk():
                counts: dict[str, int] = {}
                for doc in self._segment(segment).all():
                    counts[self._facet(doc)] = counts.get(self._facet(doc), 0) + 1
                    if doc.get("id") != RecordId(segment, int(doc.doc_id) - 1).format(self.prefix):
                        problems.append(
                            f"segment {segment}: slot {doc.doc_id} holds {doc.get('id')}"
                        )
                    entry = expected.setdefault(str(doc.get("customer_id")), {"ids": []})
                    entry["ids"].append(str(doc["id"]))
                    if self._flag is not None:
                        entry.setdefault("open", [])
                        if self._flag(doc):
                            entry["open"].append(str(doc["id"]))
                if summary.get(segment) != counts:
                    problems.append(f"summary of segment {segment} is {summary.get(segment)}, "
                                    f"records say {counts}")
            extra = sorted(set(summary) - set(self._segments_on_disk()))
            if extra:
                problems.append(f"summary lists segments with no file: {extra}")
            by_bucket: dict[int, set[str]] = {}
            for customer in expected:
                by_bucket.setdefault(self._bucket_no(customer), set()).add(customer)
            # A bucket with no file is empty: only files and expected customers need a look.
            present = {int(name[1:-5]) for name in os.listdir(self._index_dir)
                       if re.match(r"^b\d+\.json$", name)}
            for number in sorted(present | set(by_bucket)):
                bucket = self._bucket(number)
                for customer in set(bucket) | by_bucket.get(number, set()):
                    want = expected.get(customer)
                    if want is not None:
                        want = {k: sorted(v, key=self._sort_key) for k, v in want.items()}
                    got = bucket.get(customer)
                    if got is not None:
                        # Pages and entry together hold the customer's ids.
                        got = {k: v for k, v in got.items() if k != "pages"}
                        got["ids"] = self._paged_ids(customer, bucket[customer]) + got["ids"]
                    if got != want:
                        problems.append(
                            f"index of customer {customer} is {got}, records say {want}"
                        )
            return problems

    # ---------------------------------------------------------------- records

    def _require_id(self, record: JSON) -> RecordId:
        rid = self.parse_id(str(record.get("id")))
        if rid is None:
            raise ValueError(
                f"record id {record.get('id')!r} was not made by new_id() of this store "
                f"(expected {self.prefix}-NNNNNN-NNNN)"
            )
        return rid

    def add(self, record: JSON) -> None:
        """Store a new record; its id must be fresh."""
        rid = self._require_id(record)
        customer = str(record["customer_id"])
        with self._locked() as state:
            table = self._segment(rid.segment)
            if table.contains(doc_id=rid.slot + 1):
                raise ValueError(f"record {record['id']} already exists; use update()")
            intent = {"segment": rid.segment, "customer": customer,
                      "before": self._before([rid.segment])}
            with self._writing(state, intent):
                table.insert(Document(dict(record), doc_id=rid.slot + 1))
                number = self._bucket_no(customer)
                bucket = self._bucket(number)
                self._index_add(customer, bucket.setdefault(customer, {"ids": []}), record)
                self._write_bucket(number, bucket)
                delta = {self._facet(record): 1}
                _add_counts(self._counts_of(rid.segment), delta, 1)
                _add_counts(state["totals"], delta, 1)
                self._write_summary(rid.segment)
                _bump_next(state, rid)

    def add_many(self, records: Sequence[JSON]) -> None:
        """Store new records with one flushed write per segment they fall in (group commit).

        Returns once every record is on disk; a crash before that leaves each record either
        stored whole or not at all, and the index agreeing with whatever was stored.
        """
        rids = [self._require_id(r) for r in records]
        if len(set(rids)) != len(rids):
            raise ValueError("the same record id is given twice; each record needs new_id()")
        items = sorted(zip(rids, records, strict=True), key=lambda item: item[0])
        # Bounded groups keep the intent (in the journal) small.
        for start in range(0, len(items), GROUP_COMMIT):
            self._add_group(items[start:start + GROUP_COMMIT])

    def _add_group(self, items: list[tuple[RecordId, JSON]]) -> None:
        by_segment: dict[int, list[tuple[RecordId, JSON]]] = {}
        for rid, record in items:
            by_segment.setdefault(rid.segment, []).append((rid, record))
        customers = sorted({str(record["customer_id"]) for _, record in items})
        with self._locked() as state:
            for segment, group in by_segment.items():
                table = self._segment(segment)
                for rid, record in group:
                    if table.contains(doc_id=rid.slot + 1):
                        raise ValueError(f"record {record['id']} already exists; use update()")
            intent = {"segments": sorted(by_segment), "customers": customers,
                      "before": self._before(sorted(by_segment))}
            with self._writing(state, intent):
                for segment, group in by_segment.items():
                    self._segment(segment).insert_multiple(
                        [Document(dict(record), doc_id=rid.slot + 1) for rid, record in group]
                    )
                buckets: dict[int, JSON] = {}
                for rid, record in items:
                    customer = str(record["customer_id"])
                    number = self._bucket_no(customer)
                    bucket = buckets.setdefault(number, self._bucket(number))
                    self._index_add(customer, bucket.setdefault(customer, {"ids": []}), record)
                    delta = {self._facet(record): 1}
                    _add_counts(self._counts_of(rid.segment), delta, 1)
                    _add_counts(state["totals"], delta, 1)
                for number, bucket in buckets.items():
                    self._write_bucket(number, bucket)
                for chunk in sorted({segment // SUMMARY_CHUNK for segment in by_segment}):
                    self._write_summary(chunk * SUMMARY_CHUNK)
                _bump_next(state, items[-1][0])

    def replace(self, record: JSON) -> None:
        """Overwrite an existing record; only its segment (and index/counts if they change)."""
        rid = self._require_id(record)
        customer = str(record["customer_id"])
        with self._locked() as state:
            table = self._segment(rid.segment)
            old = table.get(doc_id=rid.slot + 1)
            if old is None:
                raise ValueError(f"record {record['id']} does not exist; use add()")
            if str(old.get("customer_id")) != customer:
                raise ValueError(
                    f"record {record['id']} belongs to customer {old.get('customer_id')}; "
                    "its customer cannot change"
                )
            new = dict(record)

            def overwrite(doc: dict[str, Any]) -> None:
                doc.clear()
                doc.update(new)

            intent = {"segment": rid.segment, "customer": customer,
                      "before": self._before([rid.segment])}
            with self._writing(state, intent):
                table.update(overwrite, doc_ids=[rid.slot + 1])
                if self._flag is not None and self._flag(old) != self._flag(new):
                    number = self._bucket_no(customer)
                    bucket = self._bucket(number)
                    entry = bucket.setdefault(customer, {"ids": [str(new["id"])]})
                    flagged = entry.setdefault("open", [])
                    if self._flag(new):
                        _insert_sorted(flagged, str(new["id"]), self._sort_key)
                    elif str(new["id"]) in flagged:
                        flagged.remove(str(new["id"]))
                    self._write_bucket(number, bucket)
                old_key, new_key = self._facet(old), self._facet(new)
                if old_key != new_key:
                    delta = {old_key: -1, new_key: 1}
                    _add_counts(self._counts_of(rid.segment), delta, 1)
                    _add_counts(state["totals"], delta, 1)
                    self._write_summary(rid.segment)

    def get(self, record_id: str) -> JSON | None:
        rid = self.parse_id(record_id)
        if rid is None:
            return None
        with self._locked():
            return self._get(rid, record_id)

    def _get(
        self, rid: RecordId, record_id: str, raw: dict[int, bytes] | None = None
    ) -> JSON | None:
        db = self._segments.get(rid.segment)
        doc: JSON | None
        if db is not None:
            found = db.table(TABLE).get(doc_id=rid.slot + 1)
            doc = dict(found) if found is not None else None
        else:
            # Not cached for writing: read the one line, not the segment (a lookup stays flat).
            doc = _load_record(self._segment_path(rid.segment), rid.slot + 1, raw, rid.segment)
        return doc if doc is not None and doc.get("id") == record_id else None

    def customer_ids(self, customer_id: str, *, flagged: bool = False) -> list[str]:
        """The customer's record ids, oldest first (only the flagged ones if asked)."""
        with self._locked():
            entry = self._bucket(self._bucket_no(customer_id)).get(customer_id) or {}
            if flagged:
                return list(entry.get("open", []))
            return self._paged_ids(customer_id, entry) + list(entry.get("ids", []))

    def for_customer(
        self,
        customer_id: str,
        *,
        flagged: bool = False,
        keep: Callable[[JSON], bool] | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[JSON]:
        """The customer's records newest first, filtered by `keep`, then sliced."""
        if limit is not None and limit <= 0:
            return []
        with self._locked():
            entry = self._bucket(self._bucket_no(customer_id)).get(customer_id) or {}
            out: list[JSON] = []
            raw: dict[int, bytes] = {}  # a busy customer's records share segments
            for record_id in self._newest_ids(customer_id, entry, flagged=flagged):
                rid = self.parse_id(record_id)
                doc = self._get(rid, record_id, raw) if rid is not None else None
                if doc is None or (keep is not None and not keep(doc)):
                    continue
                if offset:
                    offset -= 1
                    continue
                out.append(doc)
                if limit is not None and len(out) >= limit:
                    break
            return out

    def _newest_ids(self, customer: str, entry: JSON, *, flagged: bool) -> Iterator[str]:
        """The customer's ids newest first, reading a page only when the caller gets that far."""
        if flagged:
            yield from reversed(entry.get("open", []))
            return
        yield from reversed(entry.get("ids", []))
        for page in reversed(range(int(entry.get("pages", 0)))):
            yield from reversed(self._page(customer, page))

    def newest(
        self, facet_ok: Callable[[str], bool], *, offset: int = 0, limit: int | None = None
    ) -> list[JSON]:
        """Records whose facet passes `facet_ok`, newest first; loads only the segments needed.

        Summary files are read newest first and only until the page is full or the journal's
        totals say no matching record is left, so a first page reads one of them.
        """
        if limit is not None and limit <= 0:
            return []
        with self._locked() as state:
            totals: dict[str, int] = state["totals"]
            # Decide each facet once, not once per segment: deep pages add up many segments.
            wanted = {key for key in totals if facet_ok(key)}
            left = sum(totals[key] for key in wanted)
            out: list[JSON] = []
            for chunk in range(_next_of(state)[0] // SUMMARY_CHUNK, -1, -1):
                if left <= 0:
                    break
                summary = self._chunk(chunk)
                for segment in sorted(summary, reverse=True):
                    matching = sum(n for key, n in summary[segment].items() if key in wanted)
                    if matching == 0:
                        continue
                    left -= matching
                    if offset >= matching:
                        offset -= matching
                        continue
                    docs = sorted(self._segment(segment).all(), key=lambda d: -int(d.doc_id))
                    for doc in docs:
                        if self._facet(doc) not in wanted:
                            continue
                        if offset:
                            offset -= 1
                            continue
                        out.append(dict(doc))
                        if limit is not None and len(out) >= limit:
                            return out
            return out

    def count(self, facet_ok: Callable[[str], bool]) -> int:
        with self._locked() as state:
            return sum(n for key, n in state["totals"].items() if facet_ok(key))

    def close(self) -> None:
        with self._mutex:
            self._drop_caches()
            self._journal.close()


def _next_of(state: JSON) -> tuple[int, int]:
    raw = state.get("next")
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, int) for x in raw):
        return int(raw[0]), int(raw[1])
    return 0, 0


def _add_counts(into: dict[str, int], counts: dict[str, int], sign: int) -> None:
    """Add (sign 1) or take away (sign -1) `counts` per facet; a facet at zero is dropped."""
    for key, n in counts.items():
        total = into.get(key, 0) + sign * n
        if total:
            into[key] = total
        else:
            into.pop(key, None)


def _bump_next(state: JSON, rid: RecordId) -> None:
    if _next_of(state) <= (rid.segment, rid.slot):
        state["next"] = [rid.segment, rid.slot + 1]


def _insert_sorted(items: list[str], item: str, key: Callable[[str], RecordId]) -> None:
    if not items or key(items[-1]) < key(item):
        items.append(item)
        return
    if item in items:
        return
    keys = [key(i) for i in items]
    items.insert(bisect.bisect(keys, key(item)), item)
