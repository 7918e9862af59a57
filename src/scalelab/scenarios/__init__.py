"""Built-in scenarios, resolved above both the spec and the catalogue.

Most built-ins are YAML files in this folder. ``campaign-900-fixed`` is generated, never
written: every catalogue entry's patch applied to ``campaign-900``, so "fixed" has one source
of truth. This is the module every caller loads scenarios through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from scalelab import cluster
from scalelab.spec import loader
from scalelab.spec.model import Scenario
from scalelab.spec.profiles import nested

__all__ = ["VOCABULARY", "apply_patch", "builtin_document", "builtin_names", "fixed_document", "load",
           "load_scenario", "validate_document"]

#: What the simulator's layers handle: scenarios are checked against it when loaded.
VOCABULARY = loader.Vocabulary(cluster.FAULT_KINDS, cluster.RECONFIGURABLE)


def fixed_document() -> dict[str, Any]:
    """``campaign-900`` with every fix applied, as a scenario document: campaign-900's own
    document and the fixes' paths, nothing else, so that a profile still lays its defaults
    under it (a resolved document would carry the k8s-1.5 values into any profile)."""
    from scalelab.catalogue.registry import all_fixes

    doc = loader.deep_merge(loader.file_builtin("campaign-900", builtin_names()), nested(all_fixes()))
    doc["name"] = "campaign-900-fixed"
    return doc


def openstack_fixed_document() -> dict[str, Any]:
    """``openstack-200`` with the fix of every catalogue entry its issues need (the OpenStack
    entries' patches and the DNS fix behind ``mysql-dns-loss``), generated like
    ``campaign-900-fixed``."""
    from scalelab.catalogue.registry import openstack_fixes

    doc = loader.deep_merge(loader.file_builtin("openstack-200", builtin_names()), nested(openstack_fixes()))
    doc["name"] = "openstack-200-fixed"
    return doc


#: Built-ins computed from other data, by name.
GENERATED: dict[str, Callable[[], dict[str, Any]]] = {"campaign-900-fixed": fixed_document,
                                                        "openstack-200-fixed": openstack_fixed_document}


def builtin_names() -> list[str]:
    return sorted(set(loader.file_builtin_names()) | set(GENERATED))


def builtin_document(name: str) -> dict[str, Any]:
    make = GENERATED.get(name)
    if make is not None:
        return make()
    return loader.file_builtin(name, builtin_names())


def load_scenario(source: str | None = None, sets: Iterable[str] = ()) -> Scenario:
    """A scenario from a built-in name or a YAML path (default ``campaign-900``), with
    ``--set`` overrides applied and the whole result validated."""
    return loader.load_scenario(source, sets, builtin_document, VOCABULARY)


def load(source: str | None = None, sets: Iterable[str] = ()) -> loader.Loaded:
    """``load_scenario`` keeping the inputs a run records (file, overrides)."""
    return loader.load(source, sets, builtin_document, VOCABULARY)


def validate_document(doc: dict[str, Any], source: str) -> Scenario:
    """A resolved document (as a run stored it) back to its scenario."""
    return loader.validate(doc, source, vocabulary=VOCABULARY)


def apply_patch(scenario: Scenario, patch: Mapping[str, Any], source: str = "patch") -> Scenario:
    """A new scenario with dotted paths set to values, validated like a loaded file."""
    return loader.apply_patch(scenario, patch, source, vocabulary=VOCABULARY)
