"""The C names of a program's storage and how its values print: globals,
maps and statistics, their keys and values, the frames of scopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List

from .ir import GlobalSym, Program, T

C_TYPE = {T.LONG: "s64", T.STRING: "const char *"}


@dataclass
class FrameView:
    """A C struct of one scope's locals (``vars``) and temporaries."""
    struct: str
    member: str
    vars: List[str] = field(default_factory=list)
    temps: List[str] = field(default_factory=list)
    names: int = 0      # temporaries and labels numbered so far

    def new_name(self, prefix: str) -> str:
        """A name no other temporary or label of the scope has."""
        name = f"{prefix}{self.names}"
        self.names += 1
        return name

    def temp_string(self) -> str:
        name = self.new_name("t")
        self.temps.append(string_decl(name))
        return f"l->{name}"


def key_formats(sym: GlobalSym, key_ref: Callable[[int, T], str]):
    """The ``k1,k2`` format of an array's keys, and the printf arguments
    for it; ``key_ref(i, t)`` is the C of key ``i``, of type ``t``."""
    formats, args = [], []
    for i, t in enumerate(sym.key_types):
        fmt, arg = value_format(t, key_ref(i, t))
        formats.append(fmt)
        args.append(arg)
    return ",".join(formats), args


def entry_keys(m: str) -> Callable[[int, T], str]:
    """The keys of entry ``e`` of map ``m``."""
    return lambda i, t: key_ref(m, "e", i, t)


def struct_key(i: int, t: T) -> str:
    """Key ``i`` in ``key``, a struct stpc_key."""
    return f"key.{'str' if t is T.STRING else 'num'}[{i}]"


def global_value(sym: GlobalSym) -> str:
    """A scalar global's value; a counter's is its initial value plus
    what every CPU added."""
    if sym.counter:
        return f"stpc_counter_read(&stpc_pc_{sym.name}, stpc_g.g_{sym.name})"
    return f"stpc_g.g_{sym.name}"


def value_format(t: T, ref: str):
    """printf format and argument showing a value as SystemTap does."""
    if t is T.STRING:
        return '"%s"', ref
    return "%lld", f"(long long){ref}"


# the end-of-run line of a statistic, after its name; and its arguments
STAT_SUMMARY = " @count=%lld @min=%lld @max=%lld @sum=%lld @avg=%lld\n"
STAT_FIELDS = ("r->count, r->min, r->max, r->sum, "
                "stpc_stat_field(r, STPC_STAT_AVG)")
STAT_OPS = {"@count": "STPC_STAT_COUNT", "@sum": "STPC_STAT_SUM",
             "@min": "STPC_STAT_MIN", "@max": "STPC_STAT_MAX",
             "@avg": "STPC_STAT_AVG", "@variance": "STPC_STAT_VARIANCE"}


def scalar_stats(program: Program) -> List[GlobalSym]:
    return [g for g in program.globals.values()
            if g.type is T.STATS and not g.is_array]


def stat_arrays(program: Program) -> List[GlobalSym]:
    return [g for g in program.globals.values()
            if g.type is T.STATS and g.is_array]


def plain_arrays(program: Program) -> List[GlobalSym]:
    """Arrays of numbers or strings; an array nothing uses has no type,
    and no storage (SystemTap elides it)."""
    return [g for g in program.globals.values()
            if g.is_array and g.type in (T.LONG, T.STRING)]


def stat_desc_index(program: Program, sym: GlobalSym) -> int:
    """Scalar statistics' descriptions come first, then the arrays'."""
    return (scalar_stats(program) + stat_arrays(program)).index(sym)


def stat_ref(program: Program, name: str) -> str:
    """The C pointer to the storage of global statistic ``name``."""
    stats = [g.name for g in scalar_stats(program)]
    return f"(&stpc_stats[{stats.index(name)}])"


def stat_map_ref(program: Program, name: str) -> str:
    """The C pointer to the storage of global statistics array ``name``."""
    arrays = [g.name for g in stat_arrays(program)]
    return f"(&stpc_stat_maps[{arrays.index(name)}])"


def stat_map_desc_ref(program: Program, name: str) -> str:
    """The C pointer to the description of statistics array ``name``."""
    arrays = [g.name for g in stat_arrays(program)]
    return f"(&stpc_stat_map_descs[{arrays.index(name)}])"


def stat_read(program: Program, sym: GlobalSym, frame: FrameView) -> str:
    """C declaring ``r``, every CPU's share of ``sym`` merged."""
    n = len(frame.temps)
    words = f"STPC_STAT_WORDS({sym.nbuckets})"
    frame.temps.append(f"u64 agg{n}[{words}];")
    frame.temps.append(f"u64 scratch{n}[{words}];")
    return (f"struct stpc_stat_record *r = (void *)l->agg{n}; "
            f"stpc_stat_read({stat_ref(program, sym.name)}, r, "
            f"(void *)l->scratch{n});")


def map_ref(program: Program, name: str) -> str:
    """The C pointer to the map of global array ``name``."""
    arrays = [g.name for g in plain_arrays(program)]
    return f"(&stpc_maps[{arrays.index(name)}])"


def map_capacity(sym: GlobalSym) -> str:
    return str(sym.decl.size) if sym.decl.size else "MAXMAPENTRIES"


def value_ref(m: str, entry: str, t: T) -> str:
    if t is T.STRING:
        return f"stpc_value_str({m}, {entry})"
    return f"(*stpc_value_long({m}, {entry}))"


def key_ref(m: str, entry: str, i: int, t: T) -> str:
    if t is T.STRING:
        return f"stpc_key_str({m}, {entry}, {i})"
    return f"(*stpc_key_long({m}, {entry}, {i}))"


def assign_local(ref: str, value: str, t: T) -> str:
    if t is T.STRING:
        return f"stpc_str_assign({ref}, {value});"
    return f"{ref} = {value};"


def truth(value: str) -> str:
    """A long as a condition.  Compared with 0, as gcc's
    int-in-bool-context fails valid scripts such as 'if (x * 2)' and
    'if (c ? 1 : 2)'."""
    return f"(({value}) != 0)"


def string_decl(name: str) -> str:
    """A string variable or temporary.  Word-aligned: a string used as an
    array key is hashed and compared a word at a time (stpc_keystr.h),
    which takes one load per word of an aligned string and two for
    others."""
    return f"char {name}[MAXSTRINGLEN] __aligned(8);"


def member_decl(name: str, t: T) -> str:
    if t is T.STRING:
        return string_decl(name)
    return f"s64 {name};"


def c_long(value: int) -> str:
    if value == -(1 << 63):
        return "S64_MIN"
    return f"{value}LL"
