"""DWARF location expressions, evaluated at one probe address, to C.

A location expression is a small stack program.  At a known pc most of
it is known at compile time (which location list entry applies, what the
frame base and CFA are), so we run it symbolically here and leave only C
expressions over ``c->regs`` and fault-safe reads for the probe handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Set, Tuple, Union

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.die import DIE
from elftools.dwarf.locationlists import (BaseAddressEntry, LocationEntry,
                                          LocationExpr)

# x86-64 DWARF register numbers to struct pt_regs members
REGISTERS = ["ax", "dx", "cx", "bx", "si", "di", "bp", "sp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "ip"]


class Unavailable(Exception):
    """The value does not exist at this pc (optimized out, or an entry
    value we cannot recover)."""


@dataclass(frozen=True)
class InRegister:
    register: str           # a struct pt_regs member


@dataclass(frozen=True)
class InMemory:
    address: str            # C expression, an unsigned long


@dataclass(frozen=True)
class Computed:
    value: str              # C expression, a u64


@dataclass(frozen=True)
class Pieces:
    parts: Tuple[Tuple[int, "Location"], ...]   # (size in bytes, where)


Location = Union[InRegister, InMemory, Computed, Pieces]


def regs(register: str) -> str:
    return f"((u64)c->regs->{register})"


@dataclass
class Frame:
    """What an expression may need besides registers, at one pc."""
    pc: int
    cfa: Optional[Tuple[int, int]]          # (register, offset)
    frame_base: Optional[bytes]             # DW_AT_frame_base expression
    entry_pc: int                           # the function's entry address
    relocate: Callable[[int], str]          # DWARF address -> C expression
    fault_where: str                        # C string for read faults
    space: str = "kernel"                   # or "user": whose memory
    # the pt_regs members the compiled expression reads, filled while it
    # is compiled: they decide which ftrace_ops an entry site may ride
    registers: Set[str] = field(default_factory=set)


def select_expression(dwarf, die: DIE, attribute: str, pc: int,
                      cu_base: int) -> bytes:
    """The location expression of a DIE that applies at pc."""
    attr = die.attributes.get(attribute)
    if attr is None:
        raise Unavailable("it has no location")
    if attr.form in ("DW_FORM_exprloc", "DW_FORM_block1", "DW_FORM_block"):
        return bytes(attr.value)
    lists = dwarf.location_lists()
    if lists is None:
        raise Unavailable("the location lists are missing")
    entries = lists.get_location_list_at_offset(
        attr.value, die=die) if attr.form != "DW_FORM_loclistx" else \
        lists.get_location_lists_at_offset_ex(attr.value)
    if isinstance(entries, LocationExpr):
        return bytes(entries.loc_expr)
    base = cu_base
    for entry in entries:
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, LocationEntry):
            offset = 0 if entry.is_absolute else base
            if entry.begin_offset + offset <= pc < entry.end_offset + offset:
                return bytes(entry.loc_expr)
    raise Unavailable("it is optimized out at this address")


def available_ranges(dwarf, die: DIE, cu_base: int) -> List[Tuple[int, int]]:
    """Address ranges where a location list gives a usable value."""
    attr = die.attributes.get("DW_AT_location")
    if attr is None or attr.form in ("DW_FORM_exprloc", "DW_FORM_block1"):
        return []
    entries = dwarf.location_lists().get_location_list_at_offset(
        attr.value, die=die)
    spans, base = [], cu_base
    for entry in entries:
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, LocationEntry):
            offset = 0 if entry.is_absolute else base
            spans.append((entry.begin_offset + offset,
                          entry.end_offset + offset))
    return spans


def deref_c(address: str, size: int, fault_where: str,
            space: str = "kernel") -> str:
    """The fault-safe runtime read of ``size`` bytes at ``address`` (a C
    expression) in kernel or user memory; ``fault_where`` is the C string
    naming the script position a fault is reported at."""
    reader = "stpc_deref" if space == "kernel" else "stpc_user_deref"
    return f"{reader}(c, {address}, {size}, {fault_where})"


def write_c(loc: Location, value: str, size: int,
            fault_where: str) -> Optional[str]:
    """Guru mode's write of ``value`` (an s64 C expression) into the
    ``size`` bytes at ``loc``: fault-safe into memory, or into the
    register's saved value (the bytes above ``size`` kept); None where
    nothing holds the value (it is computed)."""
    if isinstance(loc, InMemory):
        return (f"stpc_kernel_write(c, {loc.address}, {value}, {size}, "
                f"{fault_where})")
    if isinstance(loc, InRegister):
        saved = f"c->regs->{loc.register}"
        if size >= 8:
            return f"{saved} = (unsigned long)({value})"
        mask = f"{(1 << (size * 8)) - 1:#x}UL"
        return (f"{saved} = ({saved} & ~{mask}) | "
                f"((unsigned long)({value}) & {mask})")
    return None


class _Evaluator:
    """Runs one expression symbolically; the stack holds C expressions."""

    def __init__(self, parser: DWARFExprParser, frame: Frame):
        self.parser = parser
        self.frame = frame
        self.stack: List[str] = []

    def read(self, register: str) -> str:
        """C reading a probed register, which is noted in the frame."""
        self.frame.registers.add(register)
        return regs(register)

    def deref(self, address: str, size: int = 8) -> str:
        return deref_c(address, size, self.frame.fault_where,
                       self.frame.space)

    def run(self, expr) -> Location:
        """Runs an expression, given as bytes or as parsed operations
        (pyelftools parses the operand of DW_OP_entry_value itself)."""
        ops = self.parser.parse_expr(expr) if isinstance(expr, bytes) \
            else expr
        pieces: List[Tuple[int, Location]] = []
        result: Optional[Location] = None
        for op in ops:
            name, args = op.op_name, op.args
            if name == "DW_OP_piece":
                pieces.append((args[0], self.pending(result)))
                result, self.stack = None, []
                continue
            if result is not None:
                raise Unavailable(f"{name} after a complete location")
            result = self.step(name, args)
        if pieces:
            if result is not None or self.stack:
                raise Unavailable("a trailing location after the pieces")
            return Pieces(tuple(pieces))
        return self.pending(result)

    def pending(self, result: Optional[Location]) -> Location:
        if result is not None:
            return result
        if not self.stack:
            raise Unavailable("it is optimized out (empty piece)")
        return InMemory(self.stack.pop())

    def step(self, name: str, args) -> Optional[Location]:
        """Executes one operation; returns a Location when it ends one."""
        if name.startswith("DW_OP_reg") and name != "DW_OP_regx":
            return InRegister(_register(int(name[len("DW_OP_reg"):])))
        if name == "DW_OP_regx":
            return InRegister(_register(args[0]))
        if name == "DW_OP_stack_value":
            return Computed(self.stack.pop())
        if name == "DW_OP_implicit_value":
            value = int.from_bytes(bytes(args[1])[:8], "little")
            return Computed(f"{value:#x}ULL")
        self.compute(name, args)
        return None

    def compute(self, name: str, args) -> None:
        push, stack = self.stack.append, self.stack
        if name.startswith("DW_OP_breg") and name != "DW_OP_bregx":
            number = int(name[len("DW_OP_breg"):])
            push(f"({self.read(_register(number))} + {args[0]}LL)")
        elif name == "DW_OP_bregx":
            push(f"({self.read(_register(args[0]))} + {args[1]}LL)")
        elif name.startswith("DW_OP_lit"):
            push(f"{int(name[len('DW_OP_lit'):])}ULL")
        elif name.startswith("DW_OP_const"):
            push(f"((u64){args[0]}LL)")
        elif name == "DW_OP_addr":
            push(self.frame.relocate(args[0]))
        elif name == "DW_OP_fbreg":
            push(f"({self.frame_base()} + {args[0]}LL)")
        elif name == "DW_OP_call_frame_cfa":
            push(self.cfa())
        elif name == "DW_OP_deref":
            push(self.deref(stack.pop()))
        elif name == "DW_OP_deref_size":
            push(self.deref(stack.pop(), args[0]))
        elif name == "DW_OP_dup":
            push(stack[-1])
        elif name == "DW_OP_drop":
            stack.pop()
        elif name == "DW_OP_over":
            push(stack[-2])
        elif name == "DW_OP_swap":
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif name == "DW_OP_plus_uconst":
            push(f"({stack.pop()} + {args[0]}ULL)")
        elif name in _BINARY:
            right, left = stack.pop(), stack.pop()
            push(_BINARY[name].format(left, right))
        elif name == "DW_OP_neg":
            push(f"(-({stack.pop()}))")
        elif name == "DW_OP_not":
            push(f"(~({stack.pop()}))")
        elif name in ("DW_OP_entry_value", "DW_OP_GNU_entry_value"):
            push(self.entry_value(args[0]))
        else:
            raise Unavailable(f"{name} is not supported")

    def entry_value(self, expr) -> str:
        """A register's value at function entry: only known at the entry
        itself, where it is the register's current value."""
        if self.frame.pc != self.frame.entry_pc:
            raise Unavailable("only its value at function entry is known")
        inner = _Evaluator(self.parser, self.frame).run(
            expr if not isinstance(expr, (bytes, bytearray)) else bytes(expr))
        if not isinstance(inner, InRegister):
            raise Unavailable("an entry value that is not a register")
        return self.read(inner.register)

    def cfa(self) -> str:
        if self.frame.cfa is None:
            raise Unavailable("no call frame information covers the probe")
        register, offset = self.frame.cfa
        return f"({self.read(_register(register))} + {offset}LL)"

    def frame_base(self) -> str:
        if self.frame.frame_base is None:
            raise Unavailable("the function has no frame base")
        inner = _Evaluator(self.parser, self.frame).run(self.frame.frame_base)
        if isinstance(inner, InMemory):
            return inner.address
        if isinstance(inner, InRegister):
            return self.read(inner.register)
        raise Unavailable("an unusual frame base")


_BINARY = {
    "DW_OP_plus": "({0} + {1})",
    "DW_OP_minus": "({0} - {1})",
    "DW_OP_mul": "({0} * {1})",
    "DW_OP_and": "({0} & {1})",
    "DW_OP_or": "({0} | {1})",
    "DW_OP_xor": "({0} ^ {1})",
    "DW_OP_shl": "({0} << {1})",
    "DW_OP_shr": "({0} >> {1})",
    "DW_OP_shra": "((u64)((s64)({0}) >> {1}))",
}


def _register(number: int) -> str:
    if not 0 <= number < len(REGISTERS):
        raise Unavailable(f"DWARF register {number} is not in pt_regs")
    return REGISTERS[number]


def compile_location(parser: DWARFExprParser, expr: bytes,
                     frame: Frame) -> Location:
    return _Evaluator(parser, frame).run(expr)
