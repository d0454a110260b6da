"""The target variables visible at one probe site, whatever described
them: DWARF (any address, parameters and locals, exact locations), BTF
(function entry only, parameters in the x86-64 argument registers) or an
SDT mark's note ($arg1..$argN, operands of the mark's instruction).

``TargetCompiler`` (targetvars.py) asks a scope for variables, types and
structs, and never looks at DWARF or BTF itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional, Set

from elftools.dwarf.dwarf_expr import DWARFExprParser

from . import ctype as C
from .dwarftypes import function_return_type, variable_name, variable_type
from .ir import ResolvedSite
from .sdt import SdtArgumentError, SdtNote, argument_location, parse_argument

if TYPE_CHECKING:
    from .btf import KernelBtf
from .location import (Computed, Frame, InRegister, Location, Unavailable,
                       available_ranges, compile_location, select_expression)

# the System V AMD64 ABI's integer argument registers, in order
ARGUMENT_REGISTERS = ("di", "si", "dx", "cx", "r8", "r9")


@dataclass
class TargetVariable:
    name: str
    type: C.CType
    is_param: bool
    # (C fault location, the set it adds the registers it reads to)
    locate: Callable[[str, Set[str]], Location]

    def location(self, fault_where: str, registers: Set[str]) -> Location:
        """Where the variable is; the registers its address or value is
        computed from go into ``registers`` (a value held in a register
        is a read only once it is loaded: targetvars notes it then)."""
        return self.locate(fault_where, registers)


class DwarfScope:
    """Variables at a DWARF-resolved site."""
    mark: Optional[SdtNote] = None      # only MarkScope has one

    def __init__(self, resolved: ResolvedSite,
                 relocate: Callable[[int], str]):
        self.debug = resolved.debug
        self.function = resolved.function
        self.pc = resolved.pc
        self.relocate = relocate
        self.parser = DWARFExprParser(self.debug.dwarf.structs)
        self.space = "user" if resolved.user else "kernel"

    @property
    def function_name(self) -> str:
        return self.function.name

    def variables(self) -> List[TargetVariable]:
        dies = self.debug.variables_at(self.function, self.pc)
        return [TargetVariable(variable_name(die), variable_type(die),
                               die.tag == "DW_TAG_formal_parameter",
                               self._locator(die))
                for die in dies]

    def _locator(self, die) -> Callable[[str, Set[str]], Location]:
        def locate(fault_where: str, registers: Set[str]) -> Location:
            base = _frame_base(self.function.die)
            frame = Frame(pc=self.pc, cfa=self.debug.cfa_rule(self.pc),
                          frame_base=bytes(base.value) if base else None,
                          entry_pc=self.entry_pc(),
                          relocate=self.relocate, fault_where=fault_where,
                          space=self.space)
            expr = select_expression(self.debug.dwarf, die, "DW_AT_location",
                                     self.pc, _cu_base(die))
            location = compile_location(self.parser, expr, frame)
            registers |= frame.registers
            return location
        locate.die = die
        return locate

    def entry_pc(self) -> int:
        """Where the registers hold the entry values: the entry of the
        out-of-line function (for an inlined instance, its caller's)."""
        if not self.function.is_inline:
            return self.function.low_pc
        die = self.function.die
        while die is not None and die.tag != "DW_TAG_subprogram":
            die = die.get_parent()
        spans = self.debug.die_ranges(die) if die is not None else []
        return spans[0][0] if spans else -1

    def availability(self, variable: TargetVariable) -> Optional[str]:
        """Where in the function a variable can be read, as a hint."""
        die = variable.locate.die
        lines = set()
        for low, high in available_ranges(self.debug.dwarf, die,
                                          _cu_base(die)):
            for line in self.debug.lines_of(self.function):
                if any(low <= a < high for a in
                       self.debug.line_addresses(self.function, line)):
                    lines.add(line)
        if not lines:
            return None
        shown = ", ".join(str(n) for n in sorted(lines)[:20])
        return f"it is available at lines {shown} (use .statement)"

    def return_type(self) -> C.CType:
        return function_return_type(self.function)

    def global_variable(self, name: str, file: Optional[str],
                        any_unit: bool = False):
        """A file-scope variable: the probed function's compilation unit
        first, then all of a module's, or (``any_unit``: @var) all of a
        program's; never every unit of vmlinux."""
        units = [self.function.die.cu]
        if self.debug.relocatable or (any_unit and self.space == "user"):
            units += [cu for cu in self.debug.dwarf.iter_CUs()
                      if cu.cu_offset != units[0].cu_offset]
        for cu in units:
            top = cu.get_top_DIE()
            cu_name = top.attributes.get("DW_AT_name")
            cu_file = cu_name.value.decode("utf-8", "replace") \
                if cu_name is not None else ""
            if file and not cu_file.endswith(file):
                continue
            for die in top.iter_children():
                if die.tag == "DW_TAG_variable" and \
                        variable_name(die) == name and \
                        "DW_AT_location" in die.attributes:
                    return TargetVariable(name, variable_type(die), False,
                                          self._locator(die))
        return None

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        return self.debug.find_struct(kind, name)


class BtfScope:
    """Parameters of a function known from BTF, at its entry."""
    space = "kernel"
    mark: Optional[SdtNote] = None

    def __init__(self, prototype: C.Prototype, btf: KernelBtf):
        self.prototype = prototype
        self.btf = btf

    @property
    def function_name(self) -> str:
        return self.prototype.name

    def variables(self) -> List[TargetVariable]:
        return [TargetVariable(p.name, p.type, True, self._locator(i, p))
                for i, p in enumerate(self.prototype.params) if p.name]

    @staticmethod
    def _locator(index: int, param: C.Param
                 ) -> Callable[[str, Set[str]], Location]:
        def locate(fault_where: str, registers: Set[str]) -> Location:
            if index >= len(ARGUMENT_REGISTERS):
                raise Unavailable("it is passed on the stack, which BTF "
                                  "does not describe")
            if param.type.size > 8:
                raise Unavailable("a struct passed by value needs DWARF")
            return InRegister(ARGUMENT_REGISTERS[index])
        return locate

    def availability(self, variable: TargetVariable) -> Optional[str]:
        return "install the kernel's -dbg package for DWARF"

    def global_variable(self, name: str, file: Optional[str],
                        any_unit: bool = False):
        return None     # BTF describes no variables we could place

    def return_type(self) -> C.CType:
        return self.prototype.return_type

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        return self.btf.struct(name, kind)


class TracepointScope(BtfScope):
    """A tracepoint's arguments: the probe function stores each in one
    64-bit word of the handler's data (runtime_c/tracepoints.c).  A
    module's tracepoint finds structs in the module's types first."""

    def __init__(self, prototype: C.Prototype, btf: KernelBtf,
                 types: Optional[object] = None):
        super().__init__(prototype, btf)
        self.types = types

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        if self.types is not None:
            return self.types.find_struct(kind, name)
        return self.btf.struct(name, kind)

    @staticmethod
    def _locator(index: int, param: C.Param
                 ) -> Callable[[str, Set[str]], Location]:
        def locate(fault_where: str, registers: Set[str]) -> Location:
            return Computed(f"((u64 *)c->data)[{index}]")
        return locate

    def availability(self, variable: TargetVariable) -> Optional[str]:
        return None


class TypesScope:
    """Where a ``@cast`` away from a probed function (in a script
    function, a begin or timer probe) finds its struct: the kernel's
    BTF, which describes every struct of vmlinux.  It has no variables:
    only @cast chains are compiled against it."""
    function_name = "the kernel"
    space = "kernel"
    mark: Optional[SdtNote] = None

    def __init__(self, btf: KernelBtf):
        self.btf = btf

    def variables(self) -> List[TargetVariable]:
        return []

    def global_variable(self, name: str, file: Optional[str],
                        any_unit: bool = False):
        return None

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        return self.btf.struct(name, kind)


class MarkScope:
    """An SDT mark's arguments, $arg1..$argN, typed by the size and sign
    its note gives; a malformed one is refused when it is used.  With the
    program's DWARF, also the variables in scope at the mark (``code``:
    the function it is in) and the program's globals."""
    space = "user"

    def __init__(self, mark: SdtNote, code: Optional[DwarfScope]):
        self.mark = mark
        self.code = code

    @property
    def function_name(self) -> str:
        return f"mark {self.mark.provider}:{self.mark.name}"

    def variables(self) -> List[TargetVariable]:
        shown = []
        for i, spec in enumerate(self.mark.arguments.split(), 1):
            try:
                ctype = parse_argument(spec).ctype
            except SdtArgumentError:
                ctype = C.Base("long", 8, True)
            shown.append(TargetVariable(f"arg{i}", ctype, True,
                                        self._locator(spec)))
        return shown

    def _locator(self, spec: str) -> Callable[[str, Set[str]], Location]:
        # a uprobe saves every register: no entry mechanism to choose
        def locate(fault_where: str, registers: Set[str]) -> Location:
            try:
                return argument_location(parse_argument(spec), self.mark)
            except SdtArgumentError as exc:
                raise Unavailable(f"its note's operand '{spec}' cannot be "
                                  f"read: {exc}") from None
        return locate

    @property
    def debug(self):
        """The program's DWARF, if it has some."""
        return self.code.debug if self.code is not None else None

    def code_variables(self) -> List[TargetVariable]:
        """The parameters and locals of the code at the mark."""
        return self.code.variables() if self.code is not None else []

    def availability(self, variable: TargetVariable) -> Optional[str]:
        return None

    def global_variable(self, name: str, file: Optional[str],
                        any_unit: bool = False):
        if self.code is None:
            return None
        return self.code.global_variable(name, file, any_unit)

    def return_type(self) -> C.CType:
        return C.Void()

    def find_struct(self, kind: str, name: str) -> Optional[C.CType]:
        return None


def scope_of(resolved: ResolvedSite, relocate: Callable[[int], str]):
    """The variables at a resolved site, whichever format described it;
    ``relocate`` gives the C of an address in its DWARF file."""
    if resolved.mark is not None:
        return MarkScope(resolved.mark, DwarfScope(resolved, relocate)
                         if resolved.function is not None else None)
    if resolved.tracepoint:
        return TracepointScope(resolved.prototype, resolved.btf,
                               resolved.types)
    if resolved.prototype is not None:
        return BtfScope(resolved.prototype, resolved.btf)
    return DwarfScope(resolved, relocate)


def _frame_base(die):
    """DW_AT_frame_base of the function a DIE is in (an inlined instance
    uses the frame of the function it was inlined into)."""
    while die is not None:
        if die.tag == "DW_TAG_subprogram":
            return die.attributes.get("DW_AT_frame_base")
        die = die.get_parent()
    return None


def _cu_base(die) -> int:
    low = die.cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    return low.value if low is not None else 0
