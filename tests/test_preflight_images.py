"""Preflight judges an image the same whether or not weasyprint was imported first.

weasyprint sets Pillow's ``LOAD_TRUNCATED_IMAGES`` for the whole process when imported. The web
server and the watcher generate paperwork in the same process that checks incoming scans, so
without a guard half a scan (a copy cut off by a full disk or a pulled USB stick) would pass
preflight as whole and be filed with a grey lower half."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageFile

from archive.core.config import ArchiveConfig
from archive.intake.preflight import preflight


def _truncated_jpeg(path: Path) -> Path:
    rng = random.Random(7)
    img = Image.new("L", (800, 1100), 255)
    img.putdata([rng.choice((0, 255)) if i % 13 == 0 else 230 for i in range(800 * 1100)])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def test_a_truncated_scan_is_refused_even_after_weasyprint_was_imported(tmp_path: Path) -> None:
    scan = _truncated_jpeg(tmp_path / "扫描_半截.jpg")
    before = preflight(scan, ArchiveConfig())
    import weasyprint  # noqa: F401  (the import is the point: it flips a Pillow global)

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # what weasyprint did to the process
    after = preflight(scan, ArchiveConfig())
    assert before.rejection is not None and before.rejection.code == "image_truncated"
    assert after.rejection is not None and after.rejection.code == "image_truncated"
    assert "截断" in after.rejection.reason or "不完整" in after.rejection.reason
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the process's setting is given back
