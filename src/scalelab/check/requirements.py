"""pip requirement and constraint files (``upper-constraints.txt``, ``pip freeze``): the oslo.db
release decides whether Percona XtraDB Cluster's deadlock is mapped to ``DBDeadlock`` (and so
retried by the ``wrap_db_retry`` paths) or surfaces as a plain ``DBError``.

The mapping (oslo.db bug 1648818: the ``1213 WSREP detected deadlock/conflict`` message) landed
in oslo.db 4.17.0 (master, Ocata) and was backported to Newton as 4.13.5 (2016-12-12); the
Ocata pre-releases 4.14.0-4.16.x lack it (tags checked in openstack/oslo.db's history).
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from scalelab.check.provenance import FileRead, Imported

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(===|==|~=|>=|<=|!=|<|>)\s*"
                         r"([^\s;#,]+)")
#: oslo.db releases with the wsrep deadlock mapped: [4.13.5, 4.14) and from 4.17.0
NEWTON_BACKPORT = Version("4.13.5")
OCATA_PRERELEASES = Version("4.14.0")
MASTER_FIX = Version("4.17.0")


def looks_like(lines: list[str]) -> bool:
    """Most non-comment lines are pinned requirements."""
    options = [line for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))]
    return bool(options) and sum(bool(REQUIREMENT.match(line)) for line in options) * 2 > len(options)


def maps_wsrep_deadlock(version: Version) -> bool:
    return NEWTON_BACKPORT <= version < OCATA_PRERELEASES or version >= MASTER_FIX


def read(text: str, display: str) -> Imported:
    out = Imported()
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = REQUIREMENT.match(line)
        if match is None or match.group(1).lower().replace("_", "-").replace(".", "-") != "oslo-db":
            continue
        if match.group(2) not in ("===", "=="):
            out.not_readable("openstack.galera.wsrep_deadlock_mapped", display, number,
                             f"oslo.db{match.group(2)}{match.group(3)} is a range, not a release")
            continue
        try:
            version = Version(match.group(3))
        except InvalidVersion:
            out.not_readable("openstack.galera.wsrep_deadlock_mapped", display, number,
                             f"{match.group(3)!r} is not a version")
            continue
        out.put("openstack.galera.wsrep_deadlock_mapped", maps_wsrep_deadlock(version), display, [number])
        count += 1
    out.files.append(FileRead(display, "pip-requirements", count))
    return out
