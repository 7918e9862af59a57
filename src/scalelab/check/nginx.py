"""nginx.conf (Kargo's node proxy in front of the apiservers) into ``node_proxy.proxy_timeout``,
parsed by ngxparse (crossplane's parser: directives with their lines).

The node proxy is a ``stream`` server that proxies to an upstream: its ``proxy_timeout`` (nginx's
default 10m when absent) is how long an idle connection lives. ``include``s are followed
(globs relative to the including file) only into files under the paths given; a loop is an
error (the file is unreadable, saying which chain loops).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import crossplane  # type: ignore[import-untyped]

from scalelab.check.provenance import FileRead, Imported

#: nginx's own default proxy_timeout (ngx_stream_proxy_module)
NGINX_DEFAULT_TIMEOUT = "10m"


def looks_like(text: str) -> bool:
    return "{" in text and ";" in text and any(w in text for w in ("stream", "upstream", "server", "events", "http"))


def _walk(block: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for directive in block:
        out.append(directive)
        out.extend(_walk(directive.get("block") or []))
    return out


class IncludeError(Exception):
    """An include that cannot be followed: a loop, or a file outside the given paths."""


def _parse(path: Path, display: str) -> list[dict[str, Any]]:
    parsed = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False, catch_errors=True)
    config = parsed["config"][0] if parsed["config"] else {"parsed": [], "errors": []}
    if config.get("errors"):
        raise IncludeError(f"{display}: not an nginx.conf: {config['errors'][0].get('error')}")
    return list(config["parsed"])


def _expand(block: list[dict[str, Any]], here: Path, display: str, roots: list[Path],
            stack: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The directives with every ``include`` replaced by the included files' (each directive
    tagged with its file), followed only inside ``roots``; a loop is an error."""
    out = []
    for parsed in block:
        directive = {**parsed, "file": display}
        if directive["directive"] == "include" and directive["args"]:
            pattern = directive["args"][0]
            base = here.parent
            for included in sorted(base.glob(pattern) if not Path(pattern).is_absolute() else []):
                resolved = included.resolve()
                root = next((r for r in roots if resolved.is_relative_to(r)), None)
                if root is None:
                    continue  # outside what the user gave: not read
                if resolved in stack:
                    chain = " -> ".join(p.name for p in (*stack, resolved))
                    raise IncludeError(f"include loop: {chain}")
                name = resolved.relative_to(root).as_posix()
                out.extend(_expand(_parse(resolved, name), resolved, name, roots, (*stack, resolved)))
            continue
        if directive.get("block") is not None:
            directive["block"] = _expand(directive["block"], here, display, roots, stack)
        out.append(directive)
    return out


def read(path: Path, display: str, roots: list[Path] | None = None) -> Imported:
    out = Imported()
    resolved = path.resolve()
    try:
        tree = _expand(_parse(resolved, display), resolved, display, [r.resolve() for r in roots or [path]],
                       (resolved,))
    except IncludeError as error:
        out.files.append(FileRead(display, "nginx", 0, str(error)))
        return out
    count = 0
    for stream in (d for d in tree if d["directive"] == "stream"):
        servers = [d for d in stream.get("block") or [] if d["directive"] == "server"]
        for server in servers:
            directives = _walk(server.get("block") or [])
            if not any(d["directive"] == "proxy_pass" for d in directives):
                continue
            timeout = next((d for d in directives if d["directive"] == "proxy_timeout"), None)
            if timeout is not None:
                out.put("node_proxy.proxy_timeout", timeout["args"][0], timeout["file"], [timeout["line"]])
            else:
                out.values["node_proxy.proxy_timeout"] = NGINX_DEFAULT_TIMEOUT
                out.absent("node_proxy.proxy_timeout", server["file"])
            count += 1
    out.files.append(FileRead(display, "nginx", count))
    return out
