"""The generated catalogue (kerazoo/catalog.json): one current entry per
recipe, figures that a recount reproduces, FLOPs that agree with published
counts, and a `kerazoo list` that shows them without importing TensorFlow."""

import json
import subprocess
import sys

import pytest

from kerazoo import catalog, catalog_build, recipes, schema

REGENERATE = "regenerate it with `python -m kerazoo.catalog_build`"
# Published multiply-accumulate counts are rounded to two or three digits
# (EfficientNet-B1: "0.70B" for 0.687B counted), so they agree to 3%.
PUBLISHED_MACS_TOLERANCE = 0.03


def cheapest_recipe_per_builder():
    """One recipe per model builder, the one with the fewest FLOPs: the
    recount covers every builder in a few seconds each."""
    entries = catalog.entries()
    chosen = {}
    for name in recipes.list():
        builder = recipes.get(name).model.builder
        flops = entries.get(name, {}).get("flops", float("inf"))
        if builder not in chosen or flops < chosen[builder][1]:
            chosen[builder] = (name, flops)
    return sorted(name for name, _ in chosen.values())


def test_every_recipe_has_a_current_entry():
    data = catalog.read()
    assert data, f"kerazoo/catalog.json is missing; {REGENERATE}"
    assert data["generator_version"] == catalog_build.GENERATOR_VERSION, f"written by another generator; {REGENERATE}"
    names = recipes.list()
    assert sorted(data["recipes"]) == names, f"entries and recipes differ; {REGENERATE}"
    stale = [name for name in names if data["recipes"][name]["fingerprint"] != catalog.fingerprint(recipes.get(name))]
    assert not stale, f"stale entries for {stale}: their model or input shape changed; {REGENERATE}"


@pytest.mark.parametrize("name", cheapest_recipe_per_builder())
def test_a_recount_reproduces_the_catalogue(name):
    recipe = recipes.get(name)
    assert catalog_build.measure(recipe) == catalog.entries().get(name), f"{name}: the figures changed; {REGENERATE}"


@pytest.mark.parametrize("name", [name for name in recipes.list() if recipes.get(name).card.macs_reported])
def test_counted_flops_agree_with_published_figures(name):
    card = recipes.get(name).card
    counted = catalog.entries()[name]["macs"]
    gap = abs(counted - card.macs_reported) / card.macs_reported
    assert gap <= PUBLISHED_MACS_TOLERANCE, (
        f"{name}: counted {counted / 1e9:.4f} G multiply-accumulates, {card.macs_source} reports "
        f"{card.macs_reported / 1e9:.4f} G ({gap:.1%} apart)"
    )


def test_list_shows_flops_for_every_recipe_without_tensorflow():
    code = (
        "import contextlib, io, json, sys\n"
        "from kerazoo.cli.main import cli\n"
        "out = {}\n"
        "for key, args in (('json', ['list', '--format', 'json']), ('table', ['list'])):\n"
        "    buffer = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buffer):\n"
        "        try:\n"
        "            cli(args, prog_name='kerazoo')\n"
        "        except SystemExit as exit:\n"
        "            assert exit.code in (0, None), exit.code\n"
        "    out[key] = buffer.getvalue()\n"
        "out['heavy'] = [m for m in ('tensorflow', 'keras', 'keras_hub', 'jax', 'torch') if m in sys.modules]\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["heavy"] == []
    rows = {row["name"]: row for row in json.loads(out["json"])}
    assert sorted(rows) == recipes.list()
    table_lines = {line.split()[0]: line for line in out["table"].splitlines()[2:]}
    for name, row in rows.items():
        assert row["gflops"] and row["gflops"] > 0, f"{name}: no FLOPs in the listing"
        assert row["params_built"] and row["catalog_current"], name
        assert f" {row['gflops']:.4g} " in table_lines[name], f"{name}: GFLOPs missing from the table"


def test_json_listing_carries_every_card_field():
    row = catalog.summary(recipes.get("resnet18"))
    assert list(row["card"]) == schema.section_fields(schema.CardSection)
    assert row["card"]["params"] == row["params_reported"]
    assert row["preprocessing"] == "imagenet" and row["image_size"] == 224
