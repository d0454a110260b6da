"""What the loader execs for ``-c CMD``.

As with staprun, the command runs as its own process, so ``target()`` is
the process running the user's command rather than a shell around it.
Plain words, quoted and escaped by the shell's rules, are exec'd directly
(the program found on PATH).  Shell syntax outside quotes (operators,
redirections, expansions, globs, comments, leading assignments) is run by
``/bin/sh -c``; when the command is then one simple command naming a
program, the shell is told to ``exec`` it, because dash does not do that
on its own.  A pipeline or a list keeps the shell as ``target()``.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from .kmod import LoaderError

SHELL = "/bin/sh"

_BLANKS = " \t"
_CONTROL = "|&;()\n"          # they end a simple command
_REDIRECT_SECOND = {">": ">&|", "<": "<&>"}
_GLOB = "*?[{}"               # braces as well: wordexp refuses them
_ESCAPED_IN_DOUBLE_QUOTES = '$`"\\\n'
_RESERVED = {"!", "{", "}", "case", "do", "done", "elif", "else", "esac",
             "fi", "for", "if", "in", "then", "until", "while"}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Exec:
    """``execvp(program, argv)``: the program is searched on PATH unless it
    has a slash."""
    program: str
    argv: Tuple[str, ...]


@dataclass
class _Word:
    start: int
    end: int = 0
    text: str = ""
    plain: bool = True        # nothing the shell would expand


@dataclass
class _Scan:
    """The command cut into words, operators and redirections."""
    words: List[_Word] = field(default_factory=list)
    control: bool = False     # a pipeline, a list, a subshell, a newline
    redirects: List[int] = field(default_factory=list)  # target word index
    comment: bool = False
    substitution: bool = False  # $(...) or `...`: not cut any further


class _Scanner:
    def __init__(self, command: str):
        self.command = command
        self.scan = _Scan()
        self.word: Optional[_Word] = None

    def run(self) -> _Scan:
        i = 0
        while i < len(self.command) and not self.scan.substitution:
            i = self._step(i)
        self._end_word(len(self.command))
        return self.scan

    def _step(self, i: int) -> int:
        c = self.command[i]
        if c in _BLANKS:
            self._end_word(i)
        elif c == "\\":
            return self._escape(i)
        elif c == "'":
            return self._single_quoted(i)
        elif c == '"':
            return self._double_quoted(i)
        elif c == "#" and self.word is None:
            return self._comment(i)
        elif c in _CONTROL:
            self._end_word(i)
            self.scan.control = True
        elif c in _REDIRECT_SECOND:
            return self._redirect(i)
        else:
            self._expansion_at(i)
            self._add(i, c, plain=not (c in _GLOB or
                                       (c == "~" and self.word is None)))
        return i + 1

    def _add(self, i: int, text: str, plain: bool = True) -> None:
        if self.word is None:
            self.word = _Word(start=i)
        self.word.text += text
        self.word.plain = self.word.plain and plain

    def _end_word(self, i: int) -> None:
        if self.word is not None:
            self.word.end = i
            self.scan.words.append(self.word)
            self.word = None

    def _expansion_at(self, i: int) -> None:
        """Marks the word for $NAME, ${...}; stops at a substitution."""
        c = self.command[i]
        if c == "`" or self.command.startswith("$(", i):
            self.scan.substitution = True
        elif c == "$":
            self._add(i, "", plain=False)

    def _escape(self, i: int) -> int:
        following = self.command[i + 1:i + 2]
        if following == "\n":                 # a line continuation
            return i + 2
        self._add(i, following or "\\")       # a lone final \ stays, as in sh
        return i + 2

    def _single_quoted(self, i: int) -> int:
        end = self.command.find("'", i + 1)
        if end < 0:
            raise self._unmatched("'")
        self._add(i, self.command[i + 1:end])
        return end + 1

    def _double_quoted(self, i: int) -> int:
        self._add(i, "")
        j = i + 1
        while j < len(self.command):
            c = self.command[j]
            if c == '"':
                return j + 1
            following = self.command[j + 1:j + 2]
            if c == "\\" and following and \
                    following in _ESCAPED_IN_DOUBLE_QUOTES:
                self._add(j, "" if following == "\n" else following)
                j += 2
                continue
            self._expansion_at(j)
            if self.scan.substitution:
                return j
            self._add(j, c)
            j += 1
        raise self._unmatched('"')

    def _comment(self, i: int) -> int:
        self.scan.comment = True
        end = self.command.find("\n", i)
        return len(self.command) if end < 0 else end

    def _redirect(self, i: int) -> int:
        """An operator such as > >> 2>&1 <; the next word is its target."""
        if self.word is not None and \
                self.command[self.word.start:i].isdigit():
            self.word = None                  # the file descriptor's number
        self._end_word(i)
        j = i + 1
        if self.command[j:j + 1] and \
                self.command[j] in _REDIRECT_SECOND[self.command[i]]:
            j += 1
        if self.command[i:j] == "<<" and self.command[j:j + 1] == "-":
            j += 1
        self.scan.redirects.append(len(self.scan.words))
        return j

    def _unmatched(self, quote: str) -> LoaderError:
        return LoaderError(f"-c: unmatched {quote} in: {self.command}")


def _runs_program(name: str) -> bool:
    """Whether /bin/sh runs NAME as a program from PATH, not as a builtin
    or keyword (``exec echo`` would run /bin/echo instead of the builtin)."""
    if "/" in name:
        return True
    found = subprocess.run([SHELL, "-c", 'command -v -- "$1"', "sh", name],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    return found.returncode == 0 and found.stdout.startswith("/")


def plan(command: str,
         runs_program: Callable[[str], bool] = _runs_program) -> Exec:
    """How to exec -c COMMAND.  Raises LoaderError for an empty command or
    an unmatched quote."""
    if not command.strip(_BLANKS + "\n"):
        raise LoaderError("-c: empty command")
    scan = _Scanner(command).run()
    if _is_plain(command, scan):
        return Exec(scan.words[0].text, tuple(w.text for w in scan.words))
    word = _simple_command_word(command, scan)
    if word is not None and runs_program(word.text):
        command = f"{command[:word.start]}exec {command[word.start:]}"
    return Exec(SHELL, ("sh", "-c", command))


def _is_plain(command: str, scan: _Scan) -> bool:
    """Words only, which the shell would pass on as they are."""
    if not scan.words or scan.control or scan.redirects or scan.comment \
            or scan.substitution:
        return False
    first = command[scan.words[0].start:scan.words[0].end]
    return all(w.plain for w in scan.words) and first not in _RESERVED \
        and not _ASSIGNMENT.match(first)


def _simple_command_word(command: str, scan: _Scan) -> Optional[_Word]:
    """The program's word when COMMAND is one simple command whose program
    is named literally: past leading assignments and redirections."""
    if scan.control or scan.substitution:
        return None
    for index, word in enumerate(scan.words):
        raw = command[word.start:word.end]
        if index in scan.redirects or _ASSIGNMENT.match(raw):
            continue
        return word if word.plain and raw not in _RESERVED else None
    return None
