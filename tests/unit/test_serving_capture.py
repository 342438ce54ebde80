"""The capture writer: off the request path, bounded, and flushed on close."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gpcast.data.capture_store import count_captured, read_captured
from gpcast.serving.capture import CaptureRecord, CaptureWriter


def record(i: int) -> CaptureRecord:
    return CaptureRecord(request_id=f"r{i}", received_at=time.time(), route="/v1/forecast",
                         status=200, latency_ms=1.0, key_id="k1", model_version="1",
                         n_series=1, h=3, request=b'{"h": 3}',
                         response=b'{"ok": true, "i": %d}' % (i % 7))


def test_close_flushes_everything_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    writer = CaptureWriter(url, queue_size=10_000, flush_interval_s=10.0)
    for i in range(2500):
        assert writer.put_nowait(record(i))
    writer.close()
    assert count_captured(url) == 2500 == writer.written
    rows = read_captured(url)
    assert rows[0]["request_id"] == "r0" and rows[-1]["request_id"] == "r2499"
    assert rows[8]["request"] == '{"h": 3}' and rows[8]["response"] == '{"ok": true, "i": 1}'



def test_a_full_queue_applies_back_pressure_instead_of_dropping(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    writer = CaptureWriter(url, queue_size=4, flush_interval_s=0.01)

    async def flood() -> list[bool]:
        return [await writer.put(record(i)) for i in range(200)]

    assert all(asyncio.run(flood()))
    writer.close()
    assert writer.dropped == 0 and count_captured(url) == 200


def test_without_room_for_too_long_a_record_is_dropped_and_counted(tmp_path: Path) -> None:
    writer = CaptureWriter(f"sqlite:///{tmp_path / 'c.db'}", queue_size=1,
                           flush_interval_s=60.0, block_s=0.05)
    assert writer.put_nowait(record(0))
    assert asyncio.run(writer.put(record(1))) is False
    assert writer.dropped == 1
    writer.close()
