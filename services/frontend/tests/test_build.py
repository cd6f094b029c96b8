"""The build that assembles the served web app from app/ and the npm packages."""

import gzip
import hashlib
import re
from pathlib import Path

import pytest

from services.frontend import build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("web") / "dist"
    build.build(output)
    return output


def test_every_asset_is_named_after_its_content_and_referenced_by_that_name(built: Path) -> None:
    page = (built / "index.html").read_text()
    referenced = re.findall(r'(?:src|href)="/assets/([^"]+)"', page)

    assert sorted(path.name for path in (built / "assets").glob("*") if path.suffix != ".gz") == (
        sorted(referenced)
    )
    for name in referenced:
        content = (built / "assets" / name).read_bytes()
        assert name.split(".")[-2] == hashlib.sha256(content).hexdigest()[: build.HASH_LENGTH]
        assert b"sourceMappingURL" not in content


def test_text_files_have_an_identical_gzipped_twin(built: Path) -> None:
    for path in [built / "index.html", *(built / "assets").glob("*.js")]:
        twin = path.with_name(path.name + ".gz")
        assert gzip.decompress(twin.read_bytes()) == path.read_bytes()


def test_the_app_scripts_are_all_in_the_bundle(built: Path) -> None:
    bundle = next((built / "assets").glob("app.*.js")).read_text()

    for script in build.APP_SCRIPTS:
        assert (build.SOURCES / "js" / script).read_text().strip() in bundle


def test_a_page_naming_an_asset_the_build_lacks_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"/assets/nothing\.js"):
        build.link_assets('<script src="/assets/nothing.js"></script>', [])
