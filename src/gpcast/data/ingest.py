"""Read raw tables from any fsspec URI: a local path, ``file://``, ``s3://``, ...

The bytes are read once, hashed (sha256, the data lineage) and parsed by file type.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd

from gpcast.errors import DataValidationError, Problem, StorageError

READERS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xls": "excel"}


@dataclass(frozen=True)
class RawTable:
    """A parsed file before validation: every cell as it was read."""

    frame: pd.DataFrame
    uri: str
    sha256: str


def read_bytes(uri: str, storage_options: dict[str, Any] | None = None) -> bytes:
    try:
        with fsspec.open(uri, "rb", **(storage_options or {})) as handle:
            data: bytes = handle.read()
            return data
    except FileNotFoundError:
        raise StorageError(f"{uri}: no such file", uri=uri) from None
    except (OSError, ValueError, ImportError) as exc:
        raise StorageError(f"{uri}: cannot read ({type(exc).__name__}: {exc})",
                           uri=uri) from None


def write_bytes(uri: str, data: bytes, storage_options: dict[str, Any] | None = None) -> None:
    """Write atomically on local paths (temp file + rename); S3 puts are atomic already."""
    fs, path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
    try:
        if fs.protocol in ("file", ("file", "local")) or "file" in fs.protocol:
            fs.makedirs(fs._parent(path), exist_ok=True)
            tmp = f"{path}.tmp"
            with fs.open(tmp, "wb") as handle:
                handle.write(data)
            fs.mv(tmp, path)
        else:
            with fs.open(path, "wb") as handle:
                handle.write(data)
    except OSError as exc:
        raise StorageError(f"{uri}: cannot write ({exc})", uri=uri) from None


def read_table(uri: str, storage_options: dict[str, Any] | None = None) -> RawTable:
    """Read a CSV, Parquet or XLSX file; refuse empty files and non-tables clearly."""
    data = read_bytes(uri, storage_options)
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        raise DataValidationError(uri, [Problem("empty", "the file is empty")])
    kind = READERS.get(PurePosixPath(uri.split("?")[0]).suffix.lower(), "csv")
    try:
        if kind == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        elif kind == "excel":
            frame = pd.read_excel(io.BytesIO(data), sheet_name=0)
        else:
            if b"\x00" in data[:4096]:
                raise ValueError("binary content")
            frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                                skipinitialspace=True)
    except Exception as exc:  # parsers raise many unrelated types; all mean "not a table"
        raise DataValidationError(uri, [Problem(
            "not_a_table", f"cannot be read as {kind.upper()} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})")]) from None
    if frame.empty or frame.shape[1] == 0:
        raise DataValidationError(uri, [Problem("empty", "the file has no data rows")])
    return RawTable(frame, uri, digest)
