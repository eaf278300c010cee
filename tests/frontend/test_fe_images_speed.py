"""Image re-encoding speed (issue 16): large images measured on a sample, a time cap with a size model, and
every figure saying how it was obtained. Images are generated (no binary fixture committed)."""

from __future__ import annotations

import random

import pytest

from analyzers.frontend import images

PIL = pytest.importorskip("PIL")


def _photo(path, w, h, seed=1):
    from PIL import Image, ImageFilter

    rnd = random.Random(seed)
    small = Image.new("RGB", (w // 8, h // 8))
    small.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)) for _ in range((w // 8) * (h // 8))])
    im = small.resize((w, h), Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise((w, h), 12).convert("RGB")
    Image.blend(im, noise, 0.15).save(path)
    return path


def test_large_image_is_sampled_and_close_to_a_full_encode(tmp_path):
    path = _photo(tmp_path / "big.png", 1600, 1200)
    webp, avif, how = images.measure(path)
    assert how == "sampled"
    # the full encode, for comparison (what perfadvisor no longer does for large images)
    import io

    from PIL import Image

    with Image.open(path) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "WEBP", quality=images.WEBP_QUALITY)
    full = buf.tell()
    assert abs(webp - full) / full < 0.25, (webp, full)


def test_small_image_is_encoded_whole(tmp_path):
    path = _photo(tmp_path / "small.png", 400, 300)
    _, _, how = images.measure(path)
    assert how == "encoded"


def test_past_the_time_cap_the_model_is_used_and_marked(tmp_path):
    budget = images.Budget(seconds=0.0)
    first = _photo(tmp_path / "a.png", 400, 300, seed=2)
    budget.seconds = 1e9
    w1, a1, how1 = images.measure(first, budget)
    assert how1 == "encoded"
    budget.seconds = 0.0  # spent
    second = _photo(tmp_path / "b.png", 480, 360, seed=3)
    w2, a2, how2 = images.measure(second, budget)
    assert how2 == "model"
    ratio = w1 / first.stat().st_size
    assert w2 == int(second.stat().st_size * ratio)
    # nothing measured yet and no time: not measured at all, rather than a guess
    assert images.measure(second, images.Budget(seconds=0.0)) == (None, None, None)


def test_measure_order_is_largest_first_and_takes_the_kinds_in_turn():
    from pathlib import Path

    items = [(Path("a.png"), 10), (Path("b.jpg"), 900), (Path("c.png"), 500), (Path("d.jpg"), 20),
             (Path("e.gif"), 5), (Path("f.jpeg"), 700)]
    order = [items[i][0].name for i in images.measure_order(items)]
    assert order == ["b.jpg", "c.png", "e.gif", "f.jpeg", "a.png", "d.jpg"]
    assert sorted(images.measure_order(items)) == list(range(len(items)))  # each once


def test_a_kind_not_yet_measured_gets_one_encode_past_the_cap(tmp_path):
    budget = images.Budget(seconds=1e9)
    images.measure(_photo(tmp_path / "a.png", 400, 300, seed=4), budget)
    budget.seconds, budget.used = 0.5, 0.6  # spent for PNG, not yet twice over for a kind never measured
    jpg = tmp_path / "b.jpg"
    from PIL import Image

    with Image.open(_photo(tmp_path / "b.png", 300, 300, seed=5)) as im:
        im.save(jpg, quality=95)
    assert images.measure(jpg, budget)[2] == "encoded"
    assert images.measure(_photo(tmp_path / "c.png", 300, 300, seed=6), budget)[2] == "model"
