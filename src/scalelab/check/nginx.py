"""nginx.conf (Kargo's node proxy in front of the apiservers) into ``node_proxy.proxy_timeout``,
parsed by ngxparse (crossplane's parser: directives with their lines).

The node proxy is a ``stream`` server that proxies to an upstream: its ``proxy_timeout`` (nginx's
default 10m when absent) is how long an idle connection lives. Includes are not followed (a
file given on its own is read on its own).
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


def read(path: Path, display: str) -> Imported:
    out = Imported()
    parsed = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False, catch_errors=True)
    config = parsed["config"][0] if parsed["config"] else {"parsed": [], "errors": []}
    if config.get("errors"):
        error = config["errors"][0]
        out.files.append(FileRead(display, "nginx", 0, f"not an nginx.conf: {error.get('error')}"))
        return out
    count = 0
    for stream in (d for d in config["parsed"] if d["directive"] == "stream"):
        servers = [d for d in stream.get("block") or [] if d["directive"] == "server"]
        for server in servers:
            directives = _walk(server.get("block") or [])
            if not any(d["directive"] == "proxy_pass" for d in directives):
                continue
            timeout = next((d for d in directives if d["directive"] == "proxy_timeout"), None)
            if timeout is not None:
                out.put("node_proxy.proxy_timeout", timeout["args"][0], display, [timeout["line"]])
            else:
                out.values["node_proxy.proxy_timeout"] = NGINX_DEFAULT_TIMEOUT
                out.absent("node_proxy.proxy_timeout", display)
            count += 1
    out.files.append(FileRead(display, "nginx", count))
    return out
