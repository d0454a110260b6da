"""A stand-in for kbuild in tests that only need the build's cache
behaviour: the "module" is its C source, the runtime object an empty file,
each with the kbuild command file compiler/build.py caches beside it."""

from __future__ import annotations

from pathlib import Path


def _made(path: Path, text: str) -> Path:
    path.write_text(text)
    path.with_name(f".{path.name}.cmd").write_text("fake\n")
    return path


def install(monkeypatch, build) -> None:
    """Replaces kbuild in compiler/build.py (``build``) for one test."""
    monkeypatch.setattr(build, "_kbuild_runtime",
                        lambda workdir, options, verbose:
                        _made(workdir / "stpc-runtime.o", ""))
    monkeypatch.setattr(build, "_kbuild",
                        lambda workdir, c_source, module_name, runtime,
                        options, verbose:
                        _made(workdir / f"{module_name}.ko", c_source))
