"""Target variables (``$name->member[i]``, ``$return``, ``$$parms``,
``@cast``, ``&``) to C, at one kprobe site.

Each access is a chain of steps over a typed object whose location is
known at compile time (a register, memory at a C address expression, or
a computed value).  Only the final read, and the pointer loads on the
way, happen at run time; every one of them goes through a fault-safe
runtime helper that reports ``kernel read fault at 0x...``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Set, Tuple

from . import ast as A
from . import ctype as C
from .dwarf import DebugFile
from .entryregs import entry_registers, opaque_handlers
from .errors import ErrorCollector, StpcError, nearest
from .ir import ProbeSite, ResolvedSite
from .location import (Computed, InMemory, InRegister, Location, Pieces,
                       Unavailable, deref_c, regs, write_c)
from .probed import ProbedModules
from .userprobes import find_program
from .varscope import TypesScope, scope_of
from .visit import EXPR_NODES, ExprVisitor

CONTEXT_GROUPS = ("parms", "locals", "vars", "return")
# at an SDT mark: its arguments, and its note's names as strings
MARK_CONTEXT = ("parms", "vars", "locals", "name", "provider")


@dataclass(frozen=True)
class FormatArg:
    """A printf argument: its C type, and its C text in parts with a new
    string temporary (a char buffer) between each two of them."""
    ctype: str
    parts: Tuple[str, ...]

    def c_text(self, new_temp: Callable[[], str]) -> str:
        text = self.parts[0]
        for part in self.parts[1:]:
            text += new_temp() + part
        return text


@dataclass(frozen=True)
class Shown:
    """One variable of $$vars and the like: its piece of the format."""
    format: str
    args: Tuple[FormatArg, ...] = ()


@dataclass
class Obj:
    """A C object at a known place, during compilation of one access."""
    type: C.CType
    loc: Location


_NOT_AN_OBJECT = "it names no object in the probed code: refused as " \
    "'... is not a target value'"
_OBJECT_NODES = (A.TargetVar, A.Member, A.Subscript, A.AtOp)


class TargetCompiler(ExprVisitor):
    """Compiles the target expressions of one probe site.

    ``expr_c`` translates ordinary script subexpressions (array indices
    and @cast pointers) to C; ``where`` gives the C string naming a
    node's position for runtime errors.  Visiting a node gives the
    object it names; any other expression is refused, located."""
    REJECTS = {node: _NOT_AN_OBJECT for node in EXPR_NODES
               if node not in _OBJECT_NODES}

    def __init__(self, scope, returns: bool, point: str,
                 expr_c: Callable[[object], str],
                 where: Callable[[object], str]):
        self.scope = scope          # varscope.DwarfScope or BtfScope
        self.returns = returns      # a .return probe
        self.point = point          # the site, for messages
        self.expr_c = expr_c
        self.where = where
        # the probed registers the compiled C reads, and whether it
        # writes one: they decide which ftrace_ops an entry site rides
        self.registers: Set[str] = set()
        self.writes_registers = False

    # -- entry point --
    def value(self, node) -> str:
        """C for a target expression used as a number (an s64)."""
        if isinstance(node, A.TargetVar) and node.context:
            raise StpcError("internal: context group used as a number",
                            node.span)
        if isinstance(node, A.AddressOf):
            obj = self.object(node.operand)
            if not isinstance(obj.loc, InMemory):
                raise StpcError("cannot take the address of a value held "
                                "in a register", node.span)
            return f"((s64){obj.loc.address})"
        if isinstance(node, A.AtOp) and node.op == "@defined":
            return "((s64)1)" if self.defined(node.args[0]) else "((s64)0)"
        return self.load(self.object(node), node)

    def store(self, node, value: str) -> str:
        """C writing ``value`` (an s64 C expression) into the integer or
        pointer a target expression names: guru mode (-g)."""
        obj = self.object(node)
        t = C.strip(obj.type)
        if not isinstance(t, (C.Base, C.Enum, C.Pointer)) or \
                getattr(t, "floating", False):
            raise StpcError(f"{_describe(node)} is {obj.type.display()}: "
                            "only integers and pointers can be written",
                            node.span)
        loc = obj.loc
        if isinstance(loc, Pieces):
            loc = self.offset(loc, 0, t.size, node)
        if isinstance(loc, InRegister):
            self.writes_registers = True
        write = write_c(loc, value, t.size, self.where(node))
        if write is None:
            raise StpcError(f"{_describe(node)} cannot be written at "
                            f"{self.point}: its value is computed, not "
                            "held in memory or a register", node.span)
        return write

    def defined(self, node) -> bool:
        try:
            self.object(node)
        except StpcError:
            return False
        return True

    # -- objects --
    def object(self, node) -> Obj:
        """The typed object a target access chain names."""
        return self.visit_expr(node)

    def rejected(self, node, reason: str):
        raise StpcError(f"{_describe(node)} is not a target value",
                        node.span)

    def expr_Member(self, node: A.Member) -> Obj:
        return self.member(self.object(node.base), node)

    def expr_Subscript(self, node: A.Subscript) -> Obj:
        return self.subscript(self.object(node.base), node)

    def expr_AtOp(self, node: A.AtOp) -> Obj:
        if node.op == "@cast":
            return self.cast(node)
        if node.op == "@var":
            return self.global_var(node)
        return self.rejected(node, _NOT_AN_OBJECT)

    def expr_TargetVar(self, node: A.TargetVar) -> Obj:
        if node.name == "return":
            return self.return_value(node)
        if self.returns:
            raise StpcError(f"'${node.name}' in a .return probe: only "
                            "$return is readable there", node.span,
                            hint=f"@entry(${node.name}) reads it at entry")
        variables = self.scope.variables()
        if self.scope.mark is not None:
            variables = variables + self.scope.code_variables()
        for var in variables:
            if var.name == node.name:
                return Obj(var.type, self.locate(var, node))
        program_global = self.scope.global_variable(node.name, None) \
            if self.scope.space == "user" else None
        if program_global is not None:
            return Obj(program_global.type, self.locate(program_global, node))
        is_argument = re.fullmatch(r"arg\d+", node.name)
        if self.scope.mark is not None and (self.scope.code is None or
                                            is_argument):
            raise self.not_a_mark_argument(node, len(self.scope.variables()))
        names = [v.name for v in variables]
        raise StpcError(
            f"unknown target variable '${node.name}' in "
            f"{self.scope.function_name}", node.span,
            hint=(nearest(node.name, names) or "") +
            (" available: " + ", ".join("$" + n for n in names if n)
             if names else " the function has no variables"))

    def not_a_mark_argument(self, node: A.TargetVar,
                            count: int) -> StpcError:
        mark = self.scope.mark
        has = f"{count} argument{'s' if count != 1 else ''}"
        hint = f"its arguments are $arg1 to $arg{count}" if count else \
            "its note declares none"
        if not re.fullmatch(r"arg\d+", node.name):
            return StpcError(f"'${node.name}': a mark has no variables but "
                             f"its arguments ({has} at mark "
                             f"{mark.provider}:{mark.name})", node.span,
                             hint=hint + "; with the program's DWARF, also "
                             "the variables in scope at the mark")
        return StpcError(
            f"'${node.name}': mark {mark.provider}:{mark.name} has {has}",
            node.span, hint=hint)

    def locate(self, var, node) -> Location:
        try:
            return var.location(self.where(node), self.registers)
        except Unavailable as exc:
            raise StpcError(f"'${var.name}' is not available at "
                            f"{self.point}: {exc}", node.span,
                            hint=self.scope.availability(var)) from None

    def return_value(self, node) -> Obj:
        if not self.returns:
            raise StpcError("$return is only available in .return probes",
                            node.span)
        rtype = self.scope.return_type()
        if isinstance(C.strip(rtype), C.Void):
            raise StpcError(f"{self.scope.function_name} returns void",
                            node.span)
        if rtype.size > 8:
            loc: Location = Pieces(((8, InRegister("ax")),
                                    (8, InRegister("dx"))))
        else:
            loc = InRegister("ax")
        return Obj(rtype, loc)

    def global_var(self, node: A.AtOp) -> Obj:
        if not node.args or not isinstance(node.args[0], A.StrLit) or \
                len(node.args) > 2:
            raise StpcError('@var takes "name@file.c" and optionally the '
                            "module", node.span)
        if len(node.args) == 2 and self.scope.space == "user":
            self.check_var_program(node.args[1])
        name, _, file = node.args[0].value.partition("@")
        var = self.scope.global_variable(name, file or None, any_unit=True)
        if var is None:
            raise StpcError(f"no global variable '{name}'"
                            f"{' in ' + file if file else ''} at "
                            f"{self.point}", node.span)
        return Obj(var.type, self.locate(var, node))

    def check_var_program(self, module) -> None:
        """@var("name", "PATH") in a process probe: PATH is the probed
        program (another file's globals are at no known place)."""
        probed = self.scope.debug
        if not isinstance(module, A.StrLit):
            raise StpcError("@var's module is a string: the program's path",
                            module.span)
        if probed is None or \
                find_program(module.value, module.span) != probed.module:
            raise StpcError(f"@var's module must be the probed program"
                            f"{' ' + probed.module if probed else ''}",
                            module.span, hint="globals are read from the "
                            "program the probe is in")

    def cast(self, node: A.AtOp) -> Obj:
        if len(node.args) < 2 or not isinstance(node.args[1], A.StrLit):
            raise StpcError("@cast needs a pointer and a type name string",
                            node.span)
        wanted = node.args[1].value.strip()
        struct = self.find_struct(wanted, node)
        pointer = self.expr_c(node.args[0])
        return Obj(struct, InMemory(f"((u64)({pointer}))"))

    def find_struct(self, wanted: str, node) -> C.CType:
        """``struct NAME``, ``union NAME``, or a bare ``NAME`` that is a
        struct, else a union (as stap's ``@cast(t, "task_struct")``)."""
        kind, _, name = wanted.partition(" ")
        if not name and kind.isidentifier():
            kind, name = "", kind
        elif kind not in ("struct", "union") or not name:
            raise StpcError(f"@cast type '{wanted}' must be "
                            "'struct NAME', 'union NAME' or 'NAME'",
                            node.span)
        for each in (kind,) if kind else ("struct", "union"):
            found = self.scope.find_struct(each, name.strip())
            if found is not None:
                return found
        raise StpcError(f"no {wanted if kind else 'struct ' + name} in the "
                        f"debug information of {self.point}", node.span)

    # -- steps --
    def member(self, obj: Obj, node: A.Member) -> Obj:
        t = C.strip(obj.type)
        if isinstance(t, C.Pointer):
            obj = Obj(t.target, InMemory(self.load_raw(obj, 8, node)))
            t = C.strip(t.target)
        if not isinstance(t, C.Struct):
            raise StpcError(f"'->{node.name}' on {obj.type.display()}, "
                            "which is not a struct or union", node.span)
        if t.declaration:
            raise StpcError(f"{t.display()} is only declared here; its "
                            "members are unknown", node.span)
        found = t.member(node.name)
        if found is None:
            raise StpcError(f"{t.display()} has no member '{node.name}'",
                            node.span, hint=(nearest(node.name,
                                                     t.member_names())
                                             or "") + " members: " +
                            ", ".join(t.member_names()))
        offset, member = found
        loc = self.offset(obj.loc, offset, max(member.type.size, 1), node)
        if member.bit_size:
            raw = self.load_raw(Obj(member.type, loc),
                                (member.bit_offset + member.bit_size + 7) // 8,
                                node)
            mask = (1 << member.bit_size) - 1
            return Obj(member.type, Computed(
                f"(({raw} >> {member.bit_offset}) & {mask:#x}ULL)"))
        return Obj(member.type, loc)

    def subscript(self, obj: Obj, node: A.Subscript) -> Obj:
        t = C.strip(obj.type)
        index = f"((s64)({self.expr_c(node.index)}))"
        if isinstance(t, C.Array):
            if not isinstance(obj.loc, InMemory):
                raise StpcError("indexing an array held in registers",
                                node.span)
            base, element = obj.loc.address, t.element
        elif isinstance(t, C.Pointer):
            base, element = self.load_raw(obj, 8, node), t.target
        else:
            raise StpcError(f"'[]' on {obj.type.display()}, which is not "
                            "an array or pointer", node.span)
        size = max(element.size, 1)
        return Obj(element, InMemory(f"({base} + (u64)({index} * {size}))"))

    # -- locations --
    def offset(self, loc: Location, offset: int, size: int,
               node) -> Location:
        if offset == 0 and not isinstance(loc, Pieces):
            return loc
        if isinstance(loc, InMemory):
            return InMemory(f"({loc.address} + {offset})")
        if isinstance(loc, InRegister):
            return Computed(f"({self.read(loc.register)} >> {offset * 8})")
        if isinstance(loc, Computed):
            return Computed(f"(({loc.value}) >> {offset * 8})")
        start = 0
        for part_size, part in loc.parts:
            if start <= offset and offset + size <= start + part_size:
                return self.offset(part, offset - start, size, node)
            start += part_size
        raise StpcError("a member split across registers", node.span)

    def read(self, register: str) -> str:
        self.registers.add(register)
        return regs(register)

    def load_raw(self, obj: Obj, size: int, node) -> str:
        """The object's first ``size`` bytes as a u64 C expression."""
        loc = obj.loc
        if isinstance(loc, Pieces):
            loc = self.offset(loc, 0, size, node)
        if isinstance(loc, InMemory):
            return deref_c(loc.address, size, self.where(node),
                           self.scope.space)
        if isinstance(loc, InRegister):
            return _truncate(self.read(loc.register), size)
        return _truncate(f"((u64)({loc.value}))", size)

    def load(self, obj: Obj, node) -> str:
        """The object as a number, the way SystemTap shows it."""
        t = C.strip(obj.type)
        if isinstance(t, C.Array):
            if not isinstance(obj.loc, InMemory):
                raise StpcError("an array held in registers has no "
                                "address", node.span)
            return f"((s64){obj.loc.address})"
        if isinstance(t, C.Struct):
            raise StpcError(f"{_describe(node)} is a {t.display()}, not a "
                            "number: read one of its members with ->",
                            node.span, hint="members: " +
                            ", ".join(t.member_names()))
        if isinstance(t, C.Base) and t.floating:
            raise StpcError(f"{_describe(node)} is a floating-point value",
                            node.span)
        if isinstance(t, (C.Void, C.Function)):
            raise StpcError(f"{_describe(node)} has no value", node.span)
        size = t.size or 8
        signed = getattr(t, "signed", False)
        raw = self.load_raw(obj, size, node)
        if signed and size < 8:
            return f"((s64)(s{size * 8})({raw}))"
        return f"((s64)({raw}))"

    # -- $$parms, $$locals, $$vars, $$return --
    def context_group(self, node: A.TargetVar) -> List[Shown]:
        """How each variable of the group is shown."""
        if self.scope.mark is not None:
            return self.mark_context(node)
        if node.name not in CONTEXT_GROUPS:
            raise StpcError(f"unknown context variable '$${node.name}'",
                            node.span, hint=nearest(node.name,
                                                    CONTEXT_GROUPS))
        if node.name == "return":
            if not self.returns:
                raise StpcError("$$return is only available in .return "
                                "probes", node.span)
            return [self.shown("return", A.TargetVar(node.span, "return",
                                                     False), node.pretty)]
        if self.returns:
            raise StpcError(f"$${node.name} in a .return probe",
                            node.span, hint="use $$return")
        shown = []
        for var in self.scope.variables():
            if (node.name == "parms" and not var.is_param) or \
                    (node.name == "locals" and var.is_param):
                continue
            shown.append(self.shown(var.name, A.TargetVar(
                node.span, var.name, False), node.pretty))
        return shown

    def mark_context(self, node: A.TargetVar) -> List[Shown]:
        """At a mark, as SystemTap shows them: $$parms and $$vars are
        ``$arg1=%#x ...`` (the typed values); $$locals the locals in
        scope there (with the program's DWARF); $$name and $$provider the
        note's strings."""
        mark = self.scope.mark
        if node.name not in MARK_CONTEXT:
            raise StpcError(f"'$${node.name}' at a mark: only "
                            + ", ".join("$$" + n for n in MARK_CONTEXT)
                            + " are available there", node.span)
        if node.name in ("name", "provider"):
            text = getattr(mark, node.name)
            return [Shown(text.replace("%", "%%"))]
        if node.name == "locals":
            return [self.shown(var.name, A.TargetVar(node.span, var.name,
                                                     False), node.pretty)
                    for var in self.scope.code_variables()
                    if not var.is_param]
        return [Shown(f"${var.name}=%#llx", (FormatArg(
            "unsigned long long", (self.load(self.object(A.TargetVar(
                node.span, var.name, False)), node),)),))
                for var in self.scope.variables()]

    def shown(self, name: str, var: A.TargetVar, pretty: bool) -> Shown:
        try:
            obj = self.object(var)
        except StpcError:
            return Shown(f"{name}=?")
        t = C.strip(obj.type)
        if pretty and C.is_string_like(t) and (
                isinstance(t, C.Pointer) or isinstance(obj.loc, InMemory)):
            return Shown(f"{name}=\"%s\"", (FormatArg("const char *", (
                f"stpc_{self.scope.space}_string_or(c, ",
                f", {self.load(obj, var)})")),))
        if isinstance(t, C.Struct):
            return Shown(f"{name}={{...}}")
        if isinstance(t, C.Array):
            return Shown(f"{name}=[...]")
        if isinstance(t, (C.Void, C.Function)) or (
                isinstance(t, C.Base) and t.floating):
            return Shown(f"{name}=?")
        size = t.size or 8
        raw = self.load_raw(obj, size, var)
        return Shown(f"{name}=%#llx",
                     (FormatArg("unsigned long long", (raw,)),))


def _truncate(value: str, size: int) -> str:
    if size >= 8:
        return value
    return f"({value} & {(1 << (size * 8)) - 1:#x}ULL)"


def _describe(node) -> str:
    if isinstance(node, A.AtOp) and node.op == "@var" and node.args and \
            isinstance(node.args[0], A.StrLit):
        return f"'@var(\"{node.args[0].value}\")'"
    if isinstance(node, A.TargetVar):
        return f"'${node.name}'"
    if isinstance(node, A.Member):
        return f"'->{node.name}'"
    if isinstance(node, A.AtOp):
        return f"'{node.op}'"
    return "this expression"


def is_target(node) -> bool:
    return isinstance(node, A.TARGET_NODES)


def _chain_extras(node):
    """The ordinary subexpressions inside a target access chain."""
    while True:
        if isinstance(node, A.Subscript):
            yield node.index
            node = node.base
        elif isinstance(node, A.Member):
            node = node.base
        elif isinstance(node, A.AddressOf):
            node = node.operand
        elif isinstance(node, A.AtOp) and node.op == "@cast" and node.args:
            yield node.args[0]
            return
        else:
            return


def outer_targets(node):
    """Each whole target access under ``node`` (not its inner links)."""
    if is_target(node):
        yield node
        for extra in _chain_extras(node):
            yield from outer_targets(extra)
        return
    for value in vars(node).values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if hasattr(item, "span") and not isinstance(item, A.Span):
                yield from outer_targets(item)


def check_target_uses(functions, handlers, sites: Sequence[ProbeSite],
                      probed: ProbedModules, errors: ErrorCollector,
                      kernel_types: Callable[[], TypesScope],
                      top_level_c: bool = False
                      ) -> Tuple[List[ProbeSite], Optional[TypesScope]]:
    """Target variables appear only in kprobe handlers and resolve at
    every site of them; ``@cast`` chains also appear in functions and
    other probes, where they read the kernel's types.  Returns the
    sites, each site with target expressions with its own handler
    variant and the registers its handler needs (entryregs.py), and the
    kernel's types when a cast needs them.  Compiling
    every target expression here also adds the slots their addresses
    need to ``probed``."""
    casts = _CastChecker(kernel_types, errors)
    for function in functions.values():
        casts.check(list(outer_targets(function.decl.body)),
                    "target variables can only be used in kernel and "
                    "module probe handlers")
    checked = list(sites)
    checker = _Checker(probed, errors)
    opaque = opaque_handlers(handlers, functions, top_level_c)
    for handler in handlers:
        nodes = list(outer_targets(handler.decl.body))
        written = written_targets(handler.decl.body)
        for i, site in enumerate(checked):
            if site.handler != handler.index:
                continue
            if site.resolved is None and site.user is not None and nodes:
                errors.add(f"{_describe(nodes[0])}: {site.user.path} has "
                           "no DWARF: target variables cannot be read",
                           nodes[0].span, hint="build it with -g, or "
                           "install its debug symbols")
                continue
            compiler = None
            if nodes:
                site = dataclasses.replace(site, variant=site.order)
            if nodes and site.resolved is None:
                casts.check(nodes, "target variables are not available "
                                   f"in '{site.point}' probes")
            elif nodes:
                compiler = checker.check(site.description, site.resolved,
                                         nodes, written=written)
            checked[i] = dataclasses.replace(site, registers=entry_registers(
                compiler.registers if compiler else set(),
                compiler.writes_registers if compiler else False,
                handler.index in opaque))
    checker.add_entry_slots()
    return checked, casts.types


def _chain_root(node):
    """The node a target access chain starts at (a variable, an @-op)."""
    while isinstance(node, (A.Member, A.Subscript, A.AddressOf)):
        node = node.operand if isinstance(node, A.AddressOf) else node.base
    return node


def is_cast_chain(node) -> bool:
    """A target access that starts at a ``@cast``: it names no variable
    of a probed function."""
    root = _chain_root(node)
    return isinstance(root, A.AtOp) and root.op == "@cast"


class _CastChecker:
    """Compiles the target expressions of places without a probed
    function: each must be a @cast chain, read from the kernel's types
    (loaded only when one is there)."""

    def __init__(self, kernel_types: Callable[[], TypesScope],
                 errors: ErrorCollector):
        self.kernel_types = kernel_types
        self.errors = errors
        self.types: Optional[TypesScope] = None

    def check(self, nodes, refusal: str) -> None:
        for node in nodes:
            if not is_cast_chain(node):
                self.errors.add(f"{_describe(node)}: {refusal}", node.span,
                                hint="@cast(pointer, \"struct NAME\")->... "
                                     "reads kernel structs anywhere")
                continue
            try:
                self.compiler(node).value(node)
            except StpcError as exc:
                self.errors.add_error(exc)

    def compiler(self, node) -> TargetCompiler:
        _check_cast_module(node)
        if self.types is None:
            self.types = self.kernel_types()
        return types_compiler(self.types, lambda node: "0",
                              lambda node: "NULL")


def _check_cast_module(node) -> None:
    """Away from a probed function, a cast reads the kernel's types: its
    third argument, when given, must name the kernel."""
    cast = _chain_root(node)
    if len(cast.args) > 2:
        module = cast.args[2]
        if not isinstance(module, A.StrLit) or \
                module.value.split("<", 1)[0].strip() != "kernel":
            raise StpcError("@cast here reads the kernel's types: its "
                            "module must be \"kernel\"", module.span,
                            hint="a module's structs are read with @cast "
                                 "in that module's probes")


def types_compiler(types: TypesScope, expr_c, where) -> TargetCompiler:
    """Casts away from a probed function, against the kernel's types."""
    return TargetCompiler(types, False, "the kernel", expr_c, where)


@dataclass(frozen=True)
class TargetSite:
    """Where target variables are read: one resolved kprobe site (its
    entry, for @entry()), named for messages, and the C of its DWARF
    file's addresses."""
    point: str
    resolved: ResolvedSite
    relocate: Callable[[int], str]


def compiler_for(site: TargetSite, expr_c, where) -> TargetCompiler:
    return TargetCompiler(scope_of(site.resolved, site.relocate),
                          site.resolved.returns, site.point, expr_c, where)


def written_targets(body) -> Set[object]:
    """The target expressions a handler writes (guru mode)."""
    return {node.target for node in A.walk(body)
            if isinstance(node, (A.Assign, A.Crement))
            and getattr(node, "op", "") != "<<<" and is_target(node.target)}


def entry_captures(body, returns: bool = False) -> list:
    """The values a .return probe's handler reads at the function's
    entry, in order: its @entry(...) expressions and, as SystemTap
    does, each target expression rooted at a parameter (``$p->len``
    in a .return is ``@entry($p->len)``)."""
    return [node for node in outer_targets(body)
            if isinstance(node, A.AtOp) and node.op == "@entry"
            or returns and read_at_entry(node)]


def read_at_entry(node) -> bool:
    """A .return probe's target expression rooted at a parameter or
    local (not $return, not a $$ group): SystemTap reads it at entry."""
    root = _chain_root(node)
    return isinstance(root, A.TargetVar) and not root.context and \
        root.name != "return" and not isinstance(node, A.AddressOf)


def entry_expression(node):
    """What an entry capture reads at entry: @entry's argument, or an
    implicit capture itself."""
    if isinstance(node, A.AtOp) and node.op == "@entry":
        return node.args[0]
    return node


class _Checker:
    """Compiles target expressions for their errors and their addresses'
    slots.  Pass 3 translates the handlers first, then the functions that
    read @entry() values: their slots are added in that order too."""

    def __init__(self, probed: ProbedModules, errors: ErrorCollector):
        self.probed = probed
        self.errors = errors
        self.entry_addresses: List[Tuple[DebugFile, int]] = []

    def check(self, point: str, resolved: ResolvedSite, nodes,
              at_entry: bool = False,
              written=frozenset()) -> TargetCompiler:
        """Compiles the nodes; the compiler says which registers they
        read."""
        def add_address(address: int) -> str:
            if resolved.user:
                return "0"      # placed by the load bias: no slot
            if at_entry:
                self.entry_addresses.append((resolved.debug, address))
            else:
                self.probed.add_address(resolved.debug, address)
            return "0"
        compiler = compiler_for(TargetSite(point, resolved, add_address),
                                lambda node: "0", lambda node: "NULL")
        for node in nodes:
            if node in written:
                try:
                    compiler.store(node, "0")
                except StpcError as exc:
                    self.errors.add_error(exc)
                    continue
            if isinstance(node, A.AtOp) and node.op == "@entry":
                self.check_entry(point, resolved, node)
                continue
            if resolved.returns and read_at_entry(node):
                self.check(point, resolved.at_entry(), [node],
                           at_entry=True)
                continue
            try:
                if isinstance(node, A.TargetVar) and node.context:
                    compiler.context_group(node)
                else:
                    compiler.value(node)
            except StpcError as exc:
                if exc.span is None:
                    exc.span = node.span
                self.errors.add_error(exc)
        return compiler

    def check_entry(self, point: str, resolved: ResolvedSite,
                    node: A.AtOp) -> None:
        """The target expressions in @entry's expression, at entry
        (entryvalues.py checked where @entry is and what it holds)."""
        self.check(point, resolved.at_entry(),
                   list(outer_targets(node.args[0])), at_entry=True)

    def add_entry_slots(self) -> None:
        for debug, address in self.entry_addresses:
            self.probed.add_address(debug, address)
