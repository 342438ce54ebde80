"""Monitoring reports that survive a redeploy: ``gpcast monitor`` copies its report to
``GPCAST_REPORTS_URI`` (``s3://bucket/prefix`` or any fsspec URI), the serving API reads
the latest one from there.

Layout under the URI: ``monitor.json`` and ``monitor.html`` (the latest, overwritten by
each run; a reader never sees a half-written object: S3 puts are atomic) and
``history/<UTC timestamp>/`` with every run's copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gpcast.errors import StorageError

HTML_NAME, JSON_NAME = "monitor.html", "monitor.json"


def publish_report(local_dir: Path, uri: str,
                   storage_options: Mapping[str, Any] | None = None) -> list[str]:
    """Copy ``local_dir``'s monitor.json and monitor.html to ``uri`` (and its history);
    the URIs written, the latest JSON last. ``storage_options``: fsspec's, for ``uri``."""
    import fsspec

    root = uri.rstrip("/")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    written = []
    try:
        fs, _ = fsspec.core.url_to_fs(root, **(storage_options or {}))
        for name in (HTML_NAME, JSON_NAME):  # the JSON last: readers look for it
            source = local_dir / name
            if not source.is_file():
                continue
            data = source.read_bytes()
            for target in (f"{root}/history/{stamp}/{name}", f"{root}/{name}"):
                with fs.open(target, "wb") as handle:
                    handle.write(data)
                written.append(target)
    except (OSError, ValueError) as exc:
        raise StorageError(f"{root}: cannot write the monitoring report ({exc})",
                           uri=root) from None
    return written


def latest_report(reports_dir: Path) -> dict[str, Any] | None:
    """The last monitor run's JSON in ``reports_dir/monitor`` (what the serving web page
    shows), or None."""
    path = reports_dir / "monitor" / JSON_NAME
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def latest_published(uri: str, storage_options: Mapping[str, Any] | None = None
                     ) -> dict[str, Any] | None:
    """The latest report at ``uri`` (its monitor.json), or None when there is none yet."""
    import fsspec

    path = f"{uri.rstrip('/')}/{JSON_NAME}"
    try:
        with fsspec.open(path, "rb", **(storage_options or {})) as handle:
            data: dict[str, Any] = json.loads(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path}: cannot read the monitoring report ({exc})",
                           uri=path) from None
    return data


__all__ = ["HTML_NAME", "JSON_NAME", "latest_published", "latest_report", "publish_report"]
