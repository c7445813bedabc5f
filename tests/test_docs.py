"""The documentation: it builds with MkDocs in strict mode (so a broken link
fails here, not on a reader), every page is in the nav, every command is
documented, and the recipe catalogue is regenerated from the cards."""

import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO
from kerazoo.cli.main import COMMANDS

DOCS = REPO / "docs"


def mkdocs_build(config, site):
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=300,
    )


def nav_pages(nav):
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def test_site_builds_with_warnings_as_errors(tmp_path):
    result = mkdocs_build(REPO / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("index.html", "evaluate/index.html", "predict/index.html", "export/index.html", "catalogue/index.html"):
        assert (tmp_path / "site" / page).is_file(), page


@pytest.mark.parametrize("breakage", ["broken link", "page left out of the nav"])
def test_strict_build_fails_on_a_broken_link_or_an_unlisted_page(tmp_path, breakage):
    """The check above can fail: a copy of the docs with one mistake does not build."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    if breakage == "broken link":
        page = tmp_path / "docs" / "export.md"
        page.write_text(page.read_text() + "\nSee [the missing page](no-such-page.md).\n")
    else:
        (tmp_path / "docs" / "orphan.md").write_text("# Orphan\n")
    result = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert ("no-such-page.md" if breakage == "broken link" else "orphan.md") in result.stdout + result.stderr


def test_nav_lists_every_page_and_only_existing_ones():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    listed = list(nav_pages(config["nav"]))
    on_disk = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md"))
    assert sorted(listed) == on_disk
    assert len(listed) == len(set(listed)), "a page is listed twice"


def test_every_command_is_documented():
    commands_page = (DOCS / "commands.md").read_text()
    for name in COMMANDS:
        assert f"kerazoo {name}" in commands_page, f"docs/commands.md does not cover 'kerazoo {name}'"
    for name in ("evaluate", "predict", "export"):
        page = DOCS / f"{name}.md"
        assert page.is_file() and f"({name}.md)" in commands_page
        assert f"kerazoo {name}" in page.read_text()


def test_catalogue_is_generated_from_the_current_cards():
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "make_catalogue.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        "docs/catalogue.md is stale: run 'python tools/make_catalogue.py'\n" + result.stdout + result.stderr
    )


def test_catalogue_renders_every_recipe_and_notices_a_change():
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import make_catalogue
    finally:
        sys.path.remove(str(REPO / "tools"))
    from kerazoo import recipes

    rows = recipes.summaries()
    page = make_catalogue.render(rows)
    for name in recipes.names():
        assert f"`{name}`" in page
    resnet20 = next(row for row in rows if row["name"] == "resnet20")
    assert f"| {resnet20['accuracy']:.4g} |" in page
    changed = [dict(row, accuracy=0.123) if row["name"] == "resnet20" else row for row in rows]
    assert make_catalogue.render(changed) != page
