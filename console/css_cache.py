"""Parsed CSS kept in the state dir, so a launch reads its rules instead of parsing them again.

Textual parses every CSS source (the console's file and each widget's DEFAULT_CSS) on every
launch: about a quarter of the CPU to the console's first frame. `CachedStylesheet` looks each
source up in a file of pickled rules first. An entry is keyed by a digest of the Textual
installed (`textual_identity`), the theme's CSS variables (parsing substitutes them), the CSS
text and where it was read from, so an edited rule, another theme or an upgrade is a miss and
is parsed as before. The file is only ever a hint: unreadable, corrupt, foreign or from another
Textual, it is ignored and written afresh; an entry that does not load is parsed instead.
Loading resolves only the Textual classes and selector checks parsed rules are made of, by
exact name (`RULE_GLOBALS`), so a tampered file cannot run other code.

It relies on `Stylesheet._parse_rules`, a private method of textual (pinned ==8.2.8); the tests
in tests/ui/test_css_cache.py fail if its signature or the cached rules change meaning.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import io
import pickle
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual.css.model import RuleSet
from textual.css.stylesheet import Stylesheet
from textual.css.types import CSSLocation

from core.store.atomic import atomic_write_bytes

FORMAT = 1
FILE_NAME = "console-css.cache"
MAX_ENTRIES = 64  # sources; edited CSS leaves its old entries behind, the oldest unused go


def rules_attribute(owner: Any, name: str) -> Any:
    """getattr as pickled rules use it (an enum member, a dict's get and `in`), nothing else."""
    if isinstance(owner, type) and issubclass(owner, enum.Enum) and not name.startswith("_"):
        return owner[name]
    if type(owner) is dict and name in ("get", "__contains__"):  # Styles keeps these bound
        return getattr(owner, name)
    raise pickle.UnpicklingError(f"{name} is not allowed in a CSS cache")


# Every global that parsed rules pickle to: found by loading the rules of all 157 CSS sources
# of Textual 8.2.8's widgets and the console's. Names are matched exactly, so a dotted name that
# walks a module's imports (textual.app -> asyncio.subprocess...Popen) never resolves; a rule
# needing anything else is a miss and is parsed again.
RULE_GLOBALS = frozenset({
    ("textual.color", "Color"),
    ("textual.css.model", "CombinatorType"),
    ("textual.css.model", "RuleSet"),
    ("textual.css.model", "Selector"),
    ("textual.css.model", "SelectorSet"),
    ("textual.css.model", "SelectorType"),
    ("textual.css.model", "_check_class"),
    ("textual.css.model", "_check_id"),
    ("textual.css.model", "_check_type"),
    ("textual.css.model", "_check_universal"),
    ("textual.css.scalar", "Scalar"),
    ("textual.css.scalar", "ScalarOffset"),
    ("textual.css.scalar", "Unit"),
    ("textual.css.styles", "Styles"),
    ("textual.geometry", "Spacing"),
    ("textual.layouts.grid", "GridLayout"),
    ("textual.layouts.horizontal", "HorizontalLayout"),
    ("textual.layouts.stream", "StreamLayout"),
    ("textual.layouts.vertical", "VerticalLayout"),
})


class RulesUnpickler(pickle.Unpickler):
    """Loads parsed rules only: the classes and selector checks in RULE_GLOBALS, no more."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return rules_attribute
        if (module, name) == ("functools", "partial"):
            return functools.partial  # only ever of what RULE_GLOBALS resolves
        if (module, name) in RULE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CSS cache")


def load_rules(blob: bytes) -> list[RuleSet] | None:
    """The rules pickled in `blob`, or None if it does not hold a list of RuleSets."""
    try:
        rules = RulesUnpickler(io.BytesIO(blob)).load()
    except Exception:  # any damage means: parse the source again
        return None
    if isinstance(rules, list) and all(isinstance(rule, RuleSet) for rule in rules):
        return rules
    return None


class RulesFile:
    """The entries of one cache file: read once, written back when new rules were parsed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, bytes] | None = None
        self._fresh: dict[str, list[RuleSet]] = {}  # parsed this launch, pickled when saved
        self._used: set[str] = set()  # keys read or parsed this launch
        self.changed = False
        self._saving = threading.Lock()  # saved from a worker thread and on unmount

    @property
    def entries(self) -> dict[str, bytes]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, bytes]:
        if self.path is None:
            return {}
        try:
            with open(self.path, "rb") as file:
                stored = RulesUnpickler(file).load()
        except Exception:  # absent, unreadable or damaged: start empty
            return {}
        if (not isinstance(stored, dict) or stored.get("format") != FORMAT
                or stored.get("textual") != textual_identity()):
            return {}
        entries = stored.get("entries")
        if not isinstance(entries, dict):
            return {}
        return {key: blob for key, blob in entries.items()
                if isinstance(key, str) and isinstance(blob, bytes)}

    def get(self, key: str) -> list[RuleSet] | None:
        self._used.add(key)
        blob = self.entries.get(key)
        if blob is None:
            return None
        rules = load_rules(blob)
        if rules is None:
            self.entries.pop(key, None)  # the saving thread may have dropped it already
            self.changed = True
        return rules

    def put(self, key: str, rules: list[RuleSet]) -> None:
        self._used.add(key)
        self._fresh[key] = rules
        self.changed = True

    def save(self) -> None:
        """Write the entries if any changed (atomically); OSError if the state dir refuses."""
        with self._saving:
            self._save()

    def _save(self) -> None:
        # Runs in a worker thread while the app may read or add entries: it works on copies
        # taken by single dict operations, which the GIL keeps whole.
        if self.path is None or not self.changed:
            return
        self.changed = False
        fresh: dict[str, bytes] = {}
        while self._fresh:
            key, rules = self._fresh.popitem()
            try:
                fresh[key] = pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # a rule that cannot be stored is parsed on every launch
                continue
        self.entries.update(fresh)
        entries = dict(self.entries)
        unused = [key for key in entries if key not in self._used]
        for key in unused[:max(0, len(entries) - MAX_ENTRIES)]:  # the oldest first
            del entries[key]
            self.entries.pop(key, None)
        stored = {"format": FORMAT, "textual": textual_identity(), "entries": entries}
        # A cache need not survive a power cut (it is re-parsed then), only never be torn.
        atomic_write_bytes(self.path, pickle.dumps(stored, protocol=pickle.HIGHEST_PROTOCOL),
                           durable=False)


@functools.cache
def textual_identity() -> str:
    """Which Textual parses the CSS: its folder and its CSS modules' sizes and times.

    Cheaper than textual.__version__, which reads the package metadata on every access (a
    few milliseconds), and it also tells a reinstalled or patched Textual apart.
    """
    import textual.css

    folder = Path(textual.css.__file__).parent
    marks = [str(folder)]
    for name in ("model.py", "parse.py", "styles.py", "tokenize.py", "_styles_builder.py"):
        try:
            stat = (folder / name).stat()
        except OSError:
            marks.append(f"{name}:?")
            continue
        marks.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(marks)


def variables_digest(variables: Mapping[str, str]) -> bytes:
    return hashlib.blake2b(repr(sorted(variables.items())).encode(), digest_size=16).digest()


class CachedStylesheet(Stylesheet):
    """A Stylesheet that takes each source's parsed rules from a RulesFile when it can."""

    def __init__(self, *, variables: dict[str, str] | None = None,
                 rules_file: RulesFile) -> None:
        super().__init__(variables=variables)
        self.rules_file = rules_file
        self._variables_digest: bytes | None = None

    def set_variables(self, variables: dict[str, str]) -> None:
        super().set_variables(variables)
        self._variables_digest = None

    def key(self, css: str, read_from: CSSLocation, is_default_rules: bool, tie_breaker: int,
            scope: str) -> str:
        """The cache key of one source parsed with the current variables."""
        if self._variables_digest is None:
            self._variables_digest = variables_digest(self._variables)
        digest = hashlib.blake2b(digest_size=20)
        digest.update(textual_identity().encode())
        digest.update(self._variables_digest)
        digest.update(repr((read_from, is_default_rules, tie_breaker, scope)).encode())
        digest.update(css.encode())
        return digest.hexdigest()

    def _parse_rules(self, css: str, read_from: CSSLocation, is_default_rules: bool = False,
                     tie_breaker: int = 0, scope: str = "") -> list[RuleSet]:
        memory_key = (css, read_from, is_default_rules, tie_breaker, scope)
        if memory_key in self._parse_cache:
            return self._parse_cache[memory_key]
        key = self.key(css, read_from, is_default_rules, tie_breaker, scope)
        rules = self.rules_file.get(key)
        if rules is not None:
            self._parse_cache[memory_key] = rules
            return rules
        rules = super()._parse_rules(css, read_from, is_default_rules, tie_breaker, scope)
        if not any(rule.errors for rule in rules):  # errors are reported, never kept
            self.rules_file.put(key, rules)
        return rules
