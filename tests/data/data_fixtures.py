"""Fixtures for the data tests: tiny Debian packages and npm tarballs built on the fly."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def tar_bytes(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    """A tar archive (gz or xz) holding `files` (path -> content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal Debian package (an ar archive with debian-binary, control.tar.gz, data.tar.gz)."""
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", tar_bytes({"./control": b"Package: fixture\n"})),
        ("data.tar.gz", tar_bytes(files)),
    ]
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode("ascii")
        out += data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(bytes(out))
    return path
