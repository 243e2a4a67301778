"""The scene generator's labels are exact and its sizes real: what the urban weights learn from."""

from __future__ import annotations

import numpy as np

from simulators.scenes import CLASS_ID
from simulators.scenes.compose import CLASS_SCALE, render_scene
from simulators.scenes.figures import fallen_tree, person_down
from simulators.scenes.objects import REAL_SIZE_M
from simulators.scenes.survey import survey_scene


def test_survey_scenes_label_every_visible_object_inside_the_image() -> None:
    rng = np.random.default_rng(7)
    scenes = [survey_scene(rng, 320) for _ in range(20)]
    boxes = [b for s in scenes for b in s.boxes]
    assert len(boxes) >= 20 and {b[0] for b in boxes} <= set(CLASS_ID)
    for s in scenes:
        assert s.image.shape == (320, 320, 3)
        for _label, x1, y1, x2, y2 in s.boxes:
            assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 320
    again = survey_scene(np.random.default_rng(7), 320)  # deterministic per seed
    assert np.array_equal(again.image, scenes[0].image) and again.boxes == scenes[0].boxes


def test_a_person_lying_down_is_drawn_smaller_than_a_fallen_tree() -> None:
    # Real sizes: ~1.8 m against ~10 m; random compositions keep the ranges apart too.
    assert REAL_SIZE_M["person_down"] * 3 < REAL_SIZE_M["fallen_tree"]
    assert CLASS_SCALE["person_down"][1] < CLASS_SCALE["fallen_tree"][0]
    rng = np.random.default_rng(3)
    sizes: dict[str, list[float]] = {"person_down": [], "fallen_tree": []}
    for _ in range(60):
        scene = render_scene(rng, 320, labels=["person_down", "fallen_tree"], empty_p=0.0)
        for label, x1, y1, x2, y2 in scene.boxes:
            sizes[label].append(max(x2 - x1, y2 - y1))
    assert len(sizes["person_down"]) >= 20 and len(sizes["fallen_tree"]) >= 20
    assert np.median(sizes["person_down"]) * 2 < np.median(sizes["fallen_tree"])


def test_figure_sprites_are_cropped_to_the_object_and_sized_by_their_length() -> None:
    rng = np.random.default_rng(11)
    for draw in (person_down, fallen_tree):
        for _ in range(10):
            sprite = draw(rng, 120)
            alpha = sprite[..., 3] > 0.02
            assert alpha[1:-1, 1:-1].any() and alpha.mean() > 0.1  # no empty canvas around the object
            # the longest side is about the requested length (limbs and crowns may reach a bit past it)
            assert 60 <= max(sprite.shape[:2]) <= 170, (draw.__name__, sprite.shape)
