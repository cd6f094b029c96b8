"""Assemble the web app that the gateway serves.

Usage: ``python services/frontend/build.py [OUTPUT_DIR]`` (default ``services/frontend/dist``),
after ``npm ci --prefix services/frontend``. Standard library only, so any Python 3.11 runs it.

The output holds ``index.html`` and an ``assets/`` folder. Every asset's name carries a hash
of its content (``app.3f9c1e0b7a.js``), so the gateway can let browsers keep assets for a
year while ``index.html``, which names them, is revalidated on every visit. Each text file
also gets a gzipped twin that nginx's ``gzip_static`` sends without compressing per request.
"""

import fcntl
import gzip
import hashlib
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent
SOURCES = FRONTEND / "app"
NODE_MODULES = FRONTEND / "node_modules"
DEFAULT_OUTPUT = FRONTEND / "dist"
ASSETS_DIR = "assets"

# Order matters: each script may use what the earlier ones define.
APP_SCRIPTS = (
    "api.js",
    "forms.js",
    "dates.js",
    "undo.js",
    "tasks.js",
    "task_editor.js",
    "live.js",
    "account.js",
    "settings.js",
    "links.js",
    "main.js",
)
APP_STYLES = ("app.css",)

# Bootstrap's plain build (not the bundle): only its modals are used, which need no Popper.
VENDOR_FILES = {
    "jquery.js": "jquery/dist/jquery.min.js",
    "bootstrap.js": "bootstrap/dist/js/bootstrap.min.js",
    "bootstrap.css": "bootstrap/dist/css/bootstrap.min.css",
}

# The fingerprinted files are referenced from index.html as /assets/<logical name>.
ASSET_REFERENCE = re.compile(r"""(?<=["'])/assets/([A-Za-z0-9_.-]+)(?=["'])""")
# The maps are not shipped, so the comments that point at them would only cause 404s.
SOURCE_MAP_COMMENT = re.compile(rb"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$")
COMPRESSIBLE = (".html", ".js", ".css", ".svg")
HASH_LENGTH = 10


@dataclass(frozen=True)
class Asset:
    logical_name: str
    content: bytes

    @property
    def fingerprinted_name(self) -> str:
        stem, dot, extension = self.logical_name.rpartition(".")
        digest = hashlib.sha256(self.content).hexdigest()[:HASH_LENGTH]
        return f"{stem}.{digest}{dot}{extension}"


def read_vendor(relative: str) -> bytes:
    path = NODE_MODULES / relative
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `npm ci --prefix services/frontend` first")
    return SOURCE_MAP_COMMENT.sub(b"\n", path.read_bytes())


def concatenate(folder: Path, names: tuple[str, ...]) -> bytes:
    return b"\n".join((folder / name).read_bytes().rstrip(b"\n") + b"\n" for name in names)


def collect_assets() -> list[Asset]:
    assets = [Asset(name, read_vendor(relative)) for name, relative in VENDOR_FILES.items()]
    assets.append(Asset("app.js", concatenate(SOURCES / "js", APP_SCRIPTS)))
    assets.append(Asset("app.css", concatenate(SOURCES / "css", APP_STYLES)))
    assets.append(Asset("favicon.svg", (SOURCES / "favicon.svg").read_bytes()))
    return assets


def link_assets(page: str, assets: list[Asset]) -> str:
    """Point every ``/assets/<logical name>`` in the page at its fingerprinted file."""
    names = {asset.logical_name: asset.fingerprinted_name for asset in assets}

    def fingerprinted(match: re.Match[str]) -> str:
        logical = match.group(1)
        if logical not in names:
            raise SystemExit(f"index.html refers to /assets/{logical}, which the build lacks")
        return f"/{ASSETS_DIR}/{names[logical]}"

    return ASSET_REFERENCE.sub(fingerprinted, page)


def write(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    if path.suffix in COMPRESSIBLE:
        # mtime=0 keeps the archive identical from build to build.
        compressed = gzip.compress(content, compresslevel=9, mtime=0)
        if len(compressed) < len(content):
            path.with_name(path.name + ".gz").write_bytes(compressed)


def build(output: Path) -> list[Path]:
    """Write the app into ``output`` (replacing what was there); return the files written."""
    assets = collect_assets()
    page = link_assets((SOURCES / "index.html").read_text(encoding="utf-8"), assets)

    # Written beside the output and moved into place at the end: a failed build leaves the
    # previous app as it was.
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    try:
        (staging / ASSETS_DIR).mkdir()
        written = [staging / "index.html"]
        write(written[0], page.encode())
        for asset in assets:
            written.append(staging / ASSETS_DIR / asset.fingerprinted_name)
            write(written[-1], asset.content)
        staging.chmod(0o755)  # mkdtemp makes it private; nginx's workers must read it
        # Two builds at once (two `make test` in one checkout) take turns at the swap.
        with (output.parent / f".{output.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(output, ignore_errors=True)
            staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [output / path.relative_to(staging) for path in written]


def main(arguments: list[str]) -> None:
    if len(arguments) > 1:
        raise SystemExit(__doc__)
    output = Path(arguments[0]).resolve() if arguments else DEFAULT_OUTPUT
    files = build(output)
    total = sum(path.stat().st_size for path in files)
    print(f"web app built into {output}: {len(files)} files, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main(sys.argv[1:])
