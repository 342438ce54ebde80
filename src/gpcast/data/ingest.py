"""Read raw tables from any fsspec URI: a local path, ``file://``, ``s3://``, ...

The bytes are read once, hashed (sha256, the data lineage) and parsed by file type.
Headers are kept exactly as written, repeated ones included (pandas would rename a
second ``calls`` to ``calls.1``), so that validation can name both positions. A CSV's
delimiter (``,`` ``;`` tab ``|``) is found from its header line, and a semicolon file
whose numbers use a decimal comma (what European Excel writes) is read as such.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import fsspec
import pandas as pd

from gpcast.errors import DataProblem, DataValidationError, StorageError

READERS = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".xlsx": "excel", ".xls": "excel"}


@dataclass(frozen=True)
class RawTable:
    """A parsed file before validation: every cell as it was read."""

    frame: pd.DataFrame
    uri: str
    sha256: str
    delimiter: str = ","
    decimal: str = "."  # "," in a decimal-comma file: 100,5 is a hundred and a half


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
        raise DataValidationError(uri, [DataProblem("empty", "the file is empty")])
    kind = READERS.get(PurePosixPath(uri.split("?")[0]).suffix.lower(), "csv")
    delimiter, decimal = ",", "."
    try:
        if kind == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        elif kind == "excel":
            frame = _with_header(pd.read_excel(io.BytesIO(data), sheet_name=0, header=None))
        else:
            if b"\x00" in data[:4096]:
                raise ValueError("binary content")
            text = _decode(data)
            delimiter = sniff_delimiter(text)
            frame = _with_header(pd.read_csv(io.StringIO(text), dtype=str, header=None,
                                             keep_default_na=False, skipinitialspace=True,
                                             sep=delimiter))
            decimal = sniff_decimal(frame, delimiter)
    except Exception as exc:  # parsers raise many unrelated types; all mean "not a table"
        raise DataValidationError(uri, [DataProblem(
            "not_a_table", f"cannot be read as {kind.upper()} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})")]) from None
    if frame.empty or frame.shape[1] == 0:
        raise DataValidationError(uri, [DataProblem("empty", "the file has no data rows")])
    return RawTable(frame, uri, digest, delimiter, decimal)


def _decode(data: bytes) -> str:
    """UTF-8 (a byte-order mark dropped), else Windows-1252 as older Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _with_header(frame: pd.DataFrame) -> pd.DataFrame:
    """The first row as the header, every name kept as written (repeats too)."""
    if frame.empty:
        return frame
    header = ["" if pd.isna(v) else str(v).strip() for v in frame.iloc[0].tolist()]
    body = frame.iloc[1:]
    # rows with no value at all (';;;;' lines Excel leaves at the end) are not data
    empty = body.isna() | body.astype(str).apply(lambda col: col.str.strip().eq(""))
    body = body[~empty.all(axis=1)].reset_index(drop=True)
    body.columns = header
    return body


DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV: the candidate found most often in its header line
    (outside quotes); a comma when the header has none of them (one column)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        cells = {d: len(next(csv.reader([first], delimiter=d))) for d in DELIMITERS}
    except csv.Error:
        return ","
    best = max(DELIMITERS, key=lambda d: cells[d])
    return best if cells[best] > 1 else ","


_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})*,\d+$|^[+-]?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})*\.\d+$|^[+-]?\d+\.\d+$")


def sniff_decimal(frame: pd.DataFrame, delimiter: str) -> str:
    """',' when a non-comma-delimited file writes numbers like ``100,5`` or ``1.234,5``
    more often than like ``100.5`` or ``1,234.5``; otherwise '.'."""
    if delimiter == "," or frame.empty:
        return "."
    cells = [str(v).strip() for v in frame.iloc[:200].to_numpy().ravel()]
    comma = sum(bool(_COMMA_DECIMAL.match(c)) for c in cells)
    dot = sum(bool(_DOT_DECIMAL.match(c)) for c in cells)
    return "," if comma > dot else "."
