"""Exports' pure parts: a CSV row's bytes (a spreadsheet formula quoted, a signed number or an
international phone number left alone) and the streamed writer's parts."""

from __future__ import annotations

import pytest

from chalicelib.reports.exports_job import _cell, _Line
from chalicelib.shared import storage


@pytest.mark.parametrize(("value", "shown"), [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("@SUM(A1)", "'@SUM(A1)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("+8613900000000", "+8613900000000"),
    ("-120", "-120"), ("-1.5", "-1.5"), ("张三", "张三"), (-120, -120), ("", "")])
def test_a_cell_a_spreadsheet_would_run_is_quoted(value, shown):
    assert _cell(value) == shown


def test_a_row_is_one_crlf_line_of_utf8():
    line = _Line()
    assert line(["a,b", "张三", 3, "=1+1"]) == '"a,b",张三,3,\'=1+1\r\n'.encode()
    assert line(["x"]) == b"x\r\n"                  # the buffer is reused, not appended to


def test_the_writer_uploads_a_part_when_full_and_resumes_from_a_recorded_upload():
    store = storage.MemoryStorage(min_part=10)
    writer = store.open_writer("exports/x.csv", "text/csv", part_bytes=10)
    assert writer.write(b"12345") is False and writer.buffered() == 5
    assert writer.write(b"67890ab") is True and writer.buffered() == 0 and writer.upload.parts == [[1, '"1-12"']]
    recorded = storage.Upload.load(writer.upload.dump())
    resumed = store.open_writer("exports/x.csv", "text/csv", recorded, part_bytes=10)
    resumed.write(b"tail")
    assert resumed.close() == 16 and store.get("exports/x.csv") == b"1234567890abtail"


def test_a_part_under_the_minimum_but_the_last_is_refused_as_s3_refuses_it():
    store = storage.MemoryStorage(min_part=10)
    writer = store.open_writer("exports/y.csv", "text/csv", part_bytes=10)
    writer.write(b"short")
    writer.flush()                                   # a small part that is not the last
    writer.write(b"more")
    with pytest.raises(ValueError, match="EntityTooSmall"):
        writer.close()
