"""docs/architecture.md names every module of the compiler, the loader
and the runtime, each with what it owns."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PATTERNS = ("compiler/*.py", "compiler/*.lark", "compiler/templates/*",
            "loader/*.py", "runtime_c/*.c", "runtime_c/*.h",
            "runtime_c/*.py")


def _entries() -> set:
    """The modules an entry of the module list is about: the paths named
    at the head of each item, before the colon that starts what it owns."""
    listing = ARCHITECTURE.read_text().split("## Modules", 1)[1]
    items = re.split(r"^\s*- ", listing, flags=re.M)[1:]
    return {path for item in items
            for path in re.findall(r"`([^`]+)`", item.split("`:", 1)[0] + "`")}


def _mentions() -> set:
    return set(re.findall(r"`((?:compiler|loader|runtime_c)/[^`]+)`",
                          ARCHITECTURE.read_text()))


def test_every_module_has_an_entry():
    modules = {str(path.relative_to(ROOT)) for pattern in PATTERNS
               for path in ROOT.glob(pattern)}
    missing = sorted(m for m in modules if m not in _entries()
                     and not m.endswith("compiler/__init__.py"))
    assert not missing, f"not in docs/architecture.md: {missing}"


def test_no_entry_for_a_module_that_is_gone():
    gone = sorted(e for e in _mentions() if not (ROOT / e).exists())
    assert not gone, f"docs/architecture.md names missing files: {gone}"


# ---- every markdown file of the repository --------------------------------

#: Debian's kernel releases carry an ABI number (6.1.0-57, 6.1.0-57-amd64)
#: or a backports suffix (6.12.95+deb12-amd64).
PINNED_RELEASE = re.compile(r"\b\d+\.\d+\.\d+(?:-\d+|\+deb\d+)")
#: The one doc whose figures record what they were measured on.
MEASUREMENTS = ROOT / "docs" / "performance.md"
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
AUTOLINK = re.compile(r"<([a-zA-Z][\w+.-]*:[^>\s]*)>")
BARE_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\w")
SCHEME = re.compile(r"^[a-zA-Z][\w+.-]*:")


def _markdown_files() -> list:
    """The repository's markdown: not under a hidden directory (.venv,
    .cache, .git) or a build's .egg-info."""
    return sorted(
        path for path in ROOT.rglob("*.md")
        if not any(part.startswith(".") or part.endswith(".egg-info")
                   for part in path.relative_to(ROOT).parts))


def _prose(text: str) -> str:
    """``text`` without code blocks and code spans, where brackets and
    URLs are not links."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped,
    spaces as hyphens."""
    plain = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", plain).replace(" ", "-")


def _anchors(path: Path) -> set:
    return {_anchor(match.group(1)) for match in
            re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$",
                        FENCE.sub("", path.read_text()), re.M)}


def _link_problem(doc: Path, target: str):
    """Why a link's target is not a file or heading of this repository,
    or None when it is."""
    if SCHEME.match(target):
        return "points outside the repository"
    path, _, fragment = target.partition("#")
    resolved = (doc.parent / path).resolve() if path else doc
    if ROOT not in resolved.parents:
        return "points outside the repository"
    if not resolved.exists():
        return "names a missing file"
    if fragment and fragment not in _anchors(resolved):
        return f"names no heading of {resolved.name}"
    return None


def test_every_link_is_to_a_file_of_the_repository():
    """A link in README.md or a doc leads to a file (and heading) of this
    checkout: the docs must read the same offline and in any fork, and a
    renamed file must not leave a dead link.  No web address either, as
    a link or as bare text."""
    problems = []
    for doc in _markdown_files():
        prose = _prose(doc.read_text())
        name = doc.relative_to(ROOT)
        targets = (INLINE_LINK.findall(prose) + REFERENCE.findall(prose)
                   + AUTOLINK.findall(prose))
        problems += [f"{name}: ({target}) {_link_problem(doc, target)}"
                     for target in targets if _link_problem(doc, target)]
        problems += [f"{name}: {url.group(0)} is a web address"
                     for url in BARE_URL.finditer(prose)]
    assert not problems, "\n".join(problems)


def test_no_doc_names_a_pinned_debian_kernel_release():
    """Docs name a kernel as KVER, `$(uname -r)` or a series (6.1, 6.12),
    never as one of Debian's ABI releases (6.1.0-57-amd64,
    6.12.95+deb12-amd64): Debian replaces those with every kernel update
    and drops the old packages, so a command naming one stops working
    (no such headers, no such -dbg package) on a machine set up later.
    Code blocks count: they are the commands people copy.  The exception
    is docs/performance.md, whose figures are records of measurements,
    each naming the kernel it was measured on."""
    found = [f"{doc.relative_to(ROOT)}:{number}: {line.strip()}"
             for doc in _markdown_files() if doc != MEASUREMENTS
             for number, line in enumerate(doc.read_text().splitlines(), 1)
             if PINNED_RELEASE.search(line)]
    assert not found, "\n".join(found)


def test_the_link_and_release_checks_see_what_they_must():
    """The checks above find what they look for: a link out, a missing
    file, a missing heading, a bare address and a pinned release."""
    doc = ROOT / "docs" / "cli.md"
    assert _link_problem(doc, "https://sourceware.org/systemtap/")
    assert _link_problem(doc, "../../elsewhere.md")
    assert _link_problem(doc, "gone.md")
    assert _link_problem(doc, "probes.md#no-such-heading")
    assert _link_problem(doc, "probes.md#reading-kernel-and-user-memory") \
        is None
    assert _link_problem(doc, "#exit-status") is None
    assert INLINE_LINK.findall(_prose("see [x](a.md) and `[y](b.md)`")) \
        == ["a.md"]
    assert BARE_URL.search(_prose("at http://example.org, or"))
    assert not BARE_URL.search(_prose("```\nhttp://example.org\n```\n"))
    assert PINNED_RELEASE.search("-r 6.1.0-56-amd64")
    assert PINNED_RELEASE.search("linux-image-6.12.95+deb12-amd64")
    assert not PINNED_RELEASE.search("6.1 and 6.12, upstream 6.1.192")


def test_every_vm_case_docs_safety_names_exists(monkeypatch):
    """docs/safety.md proves each guarantee by VM case ids: each names a
    case (or, with '*', some cases) that the batches run."""
    import fnmatch
    import vm
    import vmcases

    monkeypatch.delenv("STPC_VM_CASES", raising=False)
    kver = vm.find_kernel_release() or "none"
    ids = [case.id for cases in (vmcases.all_cases(kver),
                                 vmcases.second_kernel_cases(kver),
                                 vmcases.sig_enforce_cases(kver))
           for case in cases]
    named = re.findall(r"`((?:corpus|workflow|robustness|targets|kernel|"
                       r"fixture|signing|language|precompiled)/[\w*-]+)`",
                       (ROOT / "docs" / "safety.md").read_text())
    assert len(named) > 20
    missing = [name for name in named if not fnmatch.filter(ids, name)]
    assert not missing, f"docs/safety.md names no case: {missing}"
