"""Scenario loading: YAML -> merged document -> validated ``Scenario``, every error at once.

A user mistake becomes one ``ScenarioError`` naming the file, each field path and what was
expected; the CLI prints it on one line and exits 2. Nothing runs before loading succeeds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scalelab.spec.model import Scenario
from scalelab.spec.profiles import PROFILES, nested, profile_defaults
from scalelab.spec.suggest import did_you_mean, field_choices

#: Largest scenario file accepted (a scenario is a page of YAML, never megabytes).
MAX_FILE_BYTES = 1 << 20
#: YAML aliases allowed in one document: enough for honest reuse, too few for a "bomb".
MAX_ALIASES = 64

#: The built-in scenario files (data only: this module never imports the package, whose
#: ``__init__`` resolves built-ins above the spec and the catalogue).
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"

#: Resolves a built-in scenario name to its document (``scalelab.scenarios`` passes one that
#: also knows the generated built-ins).
Builtins = Callable[[str], dict[str, Any]]


class ScenarioError(ValueError):
    """Bad scenario input: ``source`` (file or builtin) and one message per problem."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = list(problems) or ["invalid scenario"]
        text = f"{source}: " + "; ".join(self.problems)
        # One line, whatever the input held (a key may contain a newline).
        super().__init__("".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text))


#: The tags of the workload phases' union (pydantic writes them into error locations).
PHASE_KINDS = frozenset({"steady", "deploy", "density", "dns_load", "load", "reconfigure"})


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        # pydantic puts the discriminator value of a tagged union into the location.
        if isinstance(item, str) and item in PHASE_KINDS and parts and parts[-1].isdigit():
            continue
        parts.append(str(item))
    return ".".join(parts) or "(document)"


def _problems(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        msg = str(e["msg"])
        if e["type"] == "extra_forbidden":
            loc = tuple(e["loc"])
            msg = "unknown field" + did_you_mean(str(loc[-1]), field_choices(Scenario, loc))
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")  # our validators' own words
        out.append(f"{_field_path(tuple(e['loc']))}: {msg}")
    return out


def file_builtin_names() -> list[str]:
    """Built-in scenarios shipped as YAML files."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def _read_yaml_text(text: str, source: str) -> Any:
    try:
        aliases = sum(1 for ev in yaml.parse(text, Loader=yaml.CSafeLoader) if isinstance(ev, yaml.AliasEvent))
        if aliases > MAX_ALIASES:
            raise ScenarioError(source, [f"(document): {aliases} YAML aliases, at most {MAX_ALIASES} allowed"])
        docs = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(source, [f"{where}malformed YAML ({problem})"]) from None
    if not docs:
        return None  # an empty file: reported as an empty document
    if len(docs) != 1:
        raise ScenarioError(source, [f"(document): expected one YAML document, found {len(docs)}"])
    return docs[0]


def read_document(path: Path) -> Any:
    """The YAML document of a scenario file, with size, encoding and syntax checked."""
    source = str(path)
    try:
        data = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as exc:
        raise ScenarioError(source, [f"cannot read file ({exc.strerror or exc})"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(source, [f"(document): file larger than {MAX_FILE_BYTES} bytes"])
    if b"\x00" in data:
        raise ScenarioError(source, ["(document): binary file, expected YAML text"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(source, ["(document): not UTF-8 text, expected YAML"]) from None
    return _read_yaml_text(text, source)


def file_builtin(name: str, known: Iterable[str] | None = None) -> dict[str, Any]:
    """A built-in scenario's document from its YAML file; ``known`` names every built-in
    for the error message."""
    path = BUILTIN_DIR / f"{name}.yaml"
    if "/" in name or not path.is_file():
        names = list(known if known is not None else file_builtin_names())
        raise ScenarioError(name, [f"unknown scenario{did_you_mean(name, names)} (built-ins: {', '.join(names)}; "
                                   f"or a path to a YAML file)"])
    doc = _read_yaml_text(path.read_text(encoding="utf-8"), name)
    assert isinstance(doc, dict)
    return doc


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_document(doc: Any, source: str, builtins: Builtins = file_builtin, _depth: int = 0) -> dict[str, Any]:
    """Follow ``extends`` and lay the profile's defaults under the document."""
    if doc is None:
        raise ScenarioError(source, ["(document): empty document, expected a mapping with at least 'name'"])
    if not isinstance(doc, dict):
        raise ScenarioError(source, [f"(document): expected a mapping, got {type(doc).__name__}"])
    if any(not isinstance(k, str) for k in doc):
        raise ScenarioError(source, ["(document): every key must be a string"])
    merged: dict[str, Any] = dict(doc)
    base_name = doc.get("extends")
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ScenarioError(source, ["extends: expected the name of a built-in scenario"])
        if _depth > 8:
            raise ScenarioError(source, ["extends: chain too deep"])
        try:
            base_doc = builtins(base_name)
        except ScenarioError as exc:
            raise ScenarioError(source, [f"extends: {base_name!r}: {p}" for p in exc.problems]) from None
        base = resolve_document(base_doc, base_name, builtins, _depth + 1)
        base.pop("extends", None)
        merged = deep_merge(base, doc)
    profile = merged.get("profile", "k8s-1.5")
    if isinstance(profile, str):
        merged = deep_merge(profile_defaults(profile), merged)
    return merged


@dataclass(frozen=True)
class Vocabulary:
    """What the simulator's layers handle (``scalelab.cluster`` declares it): fault kinds and
    the spec sections a ``reconfigure`` phase may change. The spec itself lists neither, so
    a new component adds its kinds in its own layer."""

    fault_kinds: tuple[str, ...]
    reconfigurable: tuple[str, ...]


def validate(doc: dict[str, Any], source: str, check_phases: bool = True,
             vocabulary: Vocabulary | None = None) -> Scenario:
    """A ``Scenario`` from a resolved document, every problem reported at once; with a
    ``vocabulary``, fault kinds and reconfigure paths are checked against it too."""
    try:
        scenario = Scenario.model_validate(doc)
    except ValidationError as err:
        raise ScenarioError(source, _problems(err)) from None
    if vocabulary is None:
        return scenario
    problems = [f"faults.{i}.kind: unknown fault kind {f.kind!r} (expected one of {', '.join(vocabulary.fault_kinds)})"
                for i, f in enumerate(scenario.faults) if f.kind not in vocabulary.fault_kinds]
    if check_phases:
        # A reconfigure phase's patch is checked now, not when the run reaches it.
        live = tuple(f"{section}." for section in vocabulary.reconfigurable)
        for i, phase in enumerate(scenario.workload):
            if phase.kind == "reconfigure":
                fixed_paths = [p for p in phase.set if not p.startswith(live)]
                problems += [f"workload.{i}.set.{p}: not changeable on a live cluster "
                             f"(only {', '.join(vocabulary.reconfigurable)})" for p in fixed_paths]
                try:
                    apply_patch(scenario, dict(phase.set), source=source, check_phases=False, vocabulary=vocabulary)
                except ScenarioError as exc:
                    problems += [f"workload.{i}.set.{p}" for p in exc.problems]
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """A plain (JSON-able) document that validates back to the same scenario."""
    doc: dict[str, Any] = scenario.model_dump(mode="json")
    return doc


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node: Any = doc
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, dict):
            if key not in node:
                raise KeyError(path)
            if last:
                node[key] = value
            else:
                node = node[key]
        elif isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise KeyError(path)
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        else:
            raise KeyError(path)


def _paths(doc: Any, prefix: str = "") -> list[str]:
    """Every dotted path of a document (mappings and lists), leaves and sections."""
    out: list[str] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        path = f"{prefix}{key}"
        out.append(path)
        out += _paths(value, path + ".")
    return out


def apply_patch(scenario: Scenario, patch: Mapping[str, Any], source: str = "patch",
                check_phases: bool = True, vocabulary: Vocabulary | None = None) -> Scenario:
    """A new scenario with dotted paths set to values, validated like a loaded file."""
    doc = scenario_document(scenario)
    unknown = []
    for path, value in patch.items():
        try:
            _set_path(doc, path, value)
        except KeyError:
            unknown.append(f"{path}: unknown path{did_you_mean(path, _paths(doc))}")
    if unknown:
        raise ScenarioError(source, unknown)
    return validate(doc, source, check_phases, vocabulary)


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """``--set path=value`` strings -> {path: YAML scalar} (see ``as_written`` for fields that
    hold text)."""
    return {path: value for path, (_raw, value) in parse_set_raw(items).items()}


def parse_set_raw(items: Iterable[str]) -> dict[str, tuple[str, Any]]:
    """``--set path=value`` strings -> {path: (the text as written, its YAML scalar)}."""
    out: dict[str, tuple[str, Any]] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip():
            raise ScenarioError("--set", [f"{item!r}: expected PATH=VALUE"])
        try:
            value = yaml.load(raw, Loader=yaml.CSafeLoader) if raw.strip() else None
        except yaml.YAMLError:
            raise ScenarioError("--set", [f"{path}: value {raw!r} is not a YAML scalar"]) from None
        if isinstance(value, dict | list):
            raise ScenarioError("--set", [f"{path}: expected a scalar value"])
        out[path.strip()] = (raw.strip(), value)
    return out


def as_written(doc: Mapping[str, Any], sets: Mapping[str, tuple[str, Any]]) -> dict[str, Any]:
    """The values of a ``--set`` patch: a field that holds text takes the text as written
    (``scheduler.generation=1.5`` is the string "1.5", not the number), others the YAML scalar."""
    out: dict[str, Any] = {}
    for path, (raw, value) in sets.items():
        current: Any = doc
        for key in path.split("."):
            if isinstance(current, Mapping):
                current = current.get(key)
            elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
                current = current[int(key)]
            else:
                current = None
                break
        out[path] = raw if isinstance(current, str) and not isinstance(value, str) and value is not None else value
    return out


def apply_overlay(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """A scenario document on a profile overlay (``scalelab calibrate --write``): the overlay's
    ``extends`` profile, its ``set`` values under what the document says."""
    source = str(path)
    overlay = read_document(path)
    if not isinstance(overlay, dict):
        raise ScenarioError(source, ["(document): expected a profile overlay mapping (name, extends, set)"])
    problems = []
    extends = overlay.get("extends")
    if extends not in PROFILES:
        problems.append(f"extends: expected one of {', '.join(PROFILES)}")
    values = overlay.get("set", {})
    if not isinstance(values, dict) or any(not isinstance(k, str) for k in values):
        problems.append("set: expected a mapping of spec paths to values")
    unknown = sorted(set(overlay) - {"name", "extends", "set", "provenance"})
    problems += [f"{key}: unknown field" for key in unknown]
    if problems:
        raise ScenarioError(source, problems)
    return deep_merge(nested(values), {**doc, "profile": extends})


@dataclass(frozen=True)
class Loaded:
    """A scenario and where it came from: the file (None for a built-in) and the ``--set``
    overrides as applied (a profile chosen with ``--set profile=`` included)."""

    scenario: Scenario
    file: str | None
    overrides: dict[str, Any]


def load_scenario(source: str | None = None, sets: Iterable[str] = (), builtins: Builtins = file_builtin,
                  vocabulary: Vocabulary | None = None) -> Scenario:
    """A scenario from a built-in name or a YAML path (default ``campaign-900``), with
    ``--set`` overrides applied and the whole result validated. Use ``scalelab.scenarios``'s
    ``load_scenario``, which knows every built-in."""
    return load(source, sets, builtins, vocabulary).scenario


def load(source: str | None = None, sets: Iterable[str] = (), builtins: Builtins = file_builtin,
         vocabulary: Vocabulary | None = None) -> Loaded:
    """``load_scenario``, keeping the inputs a run records."""
    name = source or "campaign-900"
    file: str | None = None
    path = Path(name)
    if path.suffix in {".yaml", ".yml"} or path.exists():
        if not path.is_file():
            raise ScenarioError(name, ["no such scenario file"])
        doc = read_document(path)
        label = file = str(path)
        if isinstance(doc, dict) and "name" not in doc:
            raise ScenarioError(label, ["name: required field is missing (every scenario file names itself, "
                                        "with extends too)"])
    else:
        doc = builtins(name)
        label = name
    raw_sets = parse_set_raw(sets)
    profile = raw_sets.pop("profile", None)
    if profile is not None and isinstance(doc, dict):
        # A profile's defaults sit under every explicit value: choose it before resolving.
        doc = {**doc, "profile": profile[0]}
    chosen = doc.get("profile") if isinstance(doc, dict) else None
    if isinstance(chosen, str) and chosen not in PROFILES and Path(chosen).suffix in {".yaml", ".yml"}:
        assert isinstance(doc, dict)
        doc = apply_overlay(doc, Path(chosen))
        chosen = doc["profile"]
    if isinstance(chosen, str) and chosen not in PROFILES:
        raise ScenarioError(label, [f"profile: unknown profile {chosen!r}{did_you_mean(chosen, PROFILES)} "
                                    f"(expected one of {', '.join(PROFILES)})"])
    resolved = resolve_document(doc, label, builtins)
    scenario = validate(resolved, label, vocabulary=vocabulary)
    patch = as_written(scenario_document(scenario), raw_sets)
    if patch:
        scenario = apply_patch(scenario, patch, source="--set", vocabulary=vocabulary)
    overrides = ({"profile": profile[0]} if profile is not None else {}) | patch
    return Loaded(scenario, file, overrides)


def scenario_hash(scenario: Scenario) -> str:
    import hashlib

    blob = json.dumps(scenario_document(scenario), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
