"""process("PATH").mark("NAME"): SDT notes and their argument strings
(compiler/sdt.py), on the host.  The fixture tests/uprobe_target.c has
two marks with semaphores; a small program with hand-written notes
carries malformed arguments; /usr/bin/python3.11 is a Debian binary that
ships marks.  The VM cases (tests/vmcases.py, uprobes/mark-*) run them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from stpc.compiler import sdt
from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.elfsyms import read_build_id
from stpc.compiler.errors import StpcError
from stpc.compiler.ir import ProbeKind
from stpc.compiler.listing import list_points
from stpc.compiler.location import REGISTERS, Computed, InMemory, InRegister

SOURCE = Path(__file__).resolve().parent / "uprobe_target.c"
PYTHON = Path("/usr/bin/python3.11")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("sdt") / "uprobe_target"
    subprocess.run(["gcc", "-g", "-O2", "-o", str(binary), str(SOURCE)],
                   check=True)
    return binary


def _notes(binary: Path):
    with open(binary, "rb") as stream:
        return sdt.read_notes(ELFFile(stream), str(binary))


def _readelf_notes(binary: Path):
    """(provider, name, pc, semaphore, arguments) as readelf -n shows."""
    out = subprocess.run(["readelf", "-nW", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return re.findall(r"Provider: (\S+)\n\s+Name: (\S+)\n\s+Location: "
                      r"(0x[0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: "
                      r"(0x[0-9a-f]+)\n\s+Arguments: ?([^\n]*)", out)


def _section_offset(binary: Path, address: int) -> int:
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    for fields in (line.split() for line in out.splitlines()):
        if fields[:1] == ["LOAD"]:
            offset, vaddr, filesz = (int(fields[i], 16) for i in (1, 2, 4))
            if vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
    raise AssertionError(f"{address:#x} in no LOAD segment")


def _program(kver, script: str):
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).program()


def _c_source(kver, script: str) -> str:
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).c_source()


def test_notes_are_those_readelf_shows(fixture):
    expected = [(p, n, int(pc, 16), int(sem, 16), args)
                for p, n, pc, sem, args in _readelf_notes(fixture)]
    assert [(n.provider, n.name, n.pc, n.semaphore, n.arguments)
            for n in _notes(fixture)] == expected
    assert {(p, n) for p, n, *_ in expected} == {("shop", "order"),
                                                ("shop", "done")}


@pytest.mark.parametrize("spec, size, signed, operand", [
    ("-4@%edi", 4, True, sdt.Register("di", 0, 4)),
    ("8@%r12", 8, False, sdt.Register("r12", 0, 8)),
    ("-1@%ah", 1, True, sdt.Register("ax", 8, 1)),
    ("2@%r13w", 2, False, sdt.Register("r13", 0, 2)),
    ("8@-16(%rbp)", 8, False, sdt.Memory(-16, "", "bp", None, 1)),
    ("-4@112(%rsp)", 4, True, sdt.Memory(112, "", "sp", None, 1)),
    ("8@(%rbx)", 8, False, sdt.Memory(0, "", "bx", None, 1)),
    ("8@(%rax,%rcx)", 8, False, sdt.Memory(0, "", "ax", "cx", 1)),
    ("4@0x10(%rax,%rcx,4)", 4, False, sdt.Memory(16, "", "ax", "cx", 4)),
    ("4@(,%rdx,8)", 4, False, sdt.Memory(0, "", None, "dx", 8)),
    ("8@counter(%rip)", 8, False, sdt.Memory(0, "counter", "ip", None, 1)),
    ("-8@table+24(%rip)", 8, True, sdt.Memory(24, "table", "ip", None, 1)),
    ("4@$5", 4, False, sdt.Immediate(5)),
    ("-2@$-3", 2, True, sdt.Immediate(-3)),
    ("%rsi", 8, True, sdt.Register("si", 0, 8)),     # no size: the old form
])
def test_argument_specs(spec, size, signed, operand):
    assert sdt.parse_argument(spec) == sdt.SdtArgument(size, signed,
                                                       operand, spec)


@pytest.mark.parametrize("text, message, column", [
    ("4@%eax 3@%ebx", "argument '3@%ebx' has size 3: 1, 2, 4 or 8 bytes "
                      "expected", 7),
    ("8@%xyz", "unknown register '%xyz'", 2),
    ("8@", "displacement '8@' is not a number or symbol[+-number]", 0),
    ("8@16(%rip)", "'16(%rip)': a %rip-relative operand needs a symbol, "
                   "and no index", 2),
    ("8@(%rax,%rcx,3)", "scale '3' is not 1, 2, 4 or 8", 3),
    ("4@$abc", "immediate '$abc' is not a number", 2),
    ("4@8(%rax", "displacement '8(%rax' is not a number or "
                 "symbol[+-number]", 2),
    ("1@2 4@%eax", "operand '2' is not a register, an immediate or a "
                   "memory operand", 2),
])
def test_malformed_argument_specs_say_where(text, message, column):
    with pytest.raises(sdt.SdtArgumentError) as caught:
        sdt.parse_arguments(text)
    assert (str(caught.value), caught.value.column) == (message, column)


def test_locations_read_the_uprobes_registers():
    note = sdt.SdtNote("/x", "p", "n", 0x1000, 0, "")
    cases = {
        "-4@%edi": InRegister("di"),
        "-1@%ah": Computed("(((u64)c->regs->ax) >> 8)"),
        "8@%eax": Computed("(((u64)c->regs->ax) & 0xffffffffULL)"),
        "8@-16(%rbp)": InMemory("(((u64)c->regs->bp) + (u64)(-16LL))"),
        "8@(%rax,%rcx,8)": InMemory("(((u64)c->regs->ax) + "
                                    "((u64)c->regs->cx) * 8)"),
        "4@$7": Computed("((u64)7LL)"),
    }
    for spec, location in cases.items():
        assert sdt.argument_location(sdt.parse_argument(spec),
                                     note) == location


def test_a_symbol_is_relocated_like_the_mark(fixture):
    """grand(%rip) is read where the symbol is at run time: the
    uprobe's ip (the mark) plus their distance in the file."""
    note = _notes(fixture)[0]
    nm = subprocess.run(["nm", str(fixture)], capture_output=True,
                        text=True, check=True).stdout
    semaphore = next(int(line.split()[0], 16) for line in nm.splitlines()
                     if line.endswith(" shop_order_semaphore"))
    location = sdt.argument_location(
        sdt.parse_argument("2@shop_order_semaphore+2(%rip)"), note)
    assert location == InMemory(f"(((u64)c->regs->ip) + "
                                f"(u64)({semaphore - note.pc}LL) + "
                                "(u64)(2LL))")
    with pytest.raises(sdt.SdtArgumentError) as caught:
        sdt.argument_location(sdt.parse_argument("8@nosuch(%rip)"), note)
    assert str(caught.value) == ("'8@nosuch(%rip)': no symbol 'nosuch' in "
                                 "the program")


def test_prelink_moves_pc_and_semaphore_by_the_base_section_shift():
    """A note recorded base 0x2000; the section now is at 0x3000."""
    desc = b"".join(v.to_bytes(8, "little") for v in
                    (0x1100, 0x2000, 0x4000)) + b"prov\0nm\0-4@%edi\0"
    note = (len(b"stapsdt\0").to_bytes(4, "little") +
            len(desc).to_bytes(4, "little") + (3).to_bytes(4, "little") +
            b"stapsdt\0" + desc + b"\0" * (-len(desc) % 4))
    parsed, = (sdt._adjusted("/x", n, 0x3000)
               for n in sdt._notes(note, True, 8))
    assert (parsed.pc, parsed.semaphore, parsed.provider, parsed.name,
            parsed.arguments) == (0x2100, 0x5000, "prov", "nm", "-4@%edi")


def test_mark_sites_and_semaphores_sit_at_file_offsets(kver, fixture):
    program = _program(kver, f'''
        probe process("{fixture}").mark("order"),
              process("{fixture}").provider("sh*").mark("d*") {{ }}''')
    by_name = {n.name: n for n in _notes(fixture)}
    order, done = program.sites
    for site, name in ((order, "order"), (done, "done")):
        note = by_name[name]
        assert site.kind is ProbeKind.UPROBE
        assert site.user.address == note.pc
        assert site.user.offset == _section_offset(fixture, note.pc)
        assert site.user.semaphore_offset == \
            _section_offset(fixture, note.semaphore)
        assert site.user.function == "main"
    assert order.description == f'process("{fixture}").mark("order")'
    assert done.description == \
        f'process("{fixture}").provider("sh*").mark("done")'


# stap -r 6.1.0-57-amd64 -p2 -v -e 'probe process("/tmp/sdt_t").mark("order")
#   { printf("%d %d %d\n", $arg1, $arg2, $arg3) }' (SystemTap 4.8; /tmp/sdt_t
# is tests/uprobe_target.c built here with gcc 12 -g -O2), and the same
# for mark("done") with $arg1, $arg2: the probes and their handlers.
STAP_ORACLE = {
    "order": ('process("/tmp/sdt_t").statement(0x1178)',
              'printf("%d %d %d\\\\n", user_int32((%{ /* unprivileged */ '
              '/* pure */u_fetch_register(2) %}) + (8)), %{ /* unprivileged '
              '*/ /* pure */ ((int64_t)(int64_t)((u_fetch_register(0)))) %}, '
              'user_int64((%{ /* unprivileged */ /* pure */u_fetch_register'
              '(2) %}) + (16)));'),
    "done": ('process("/tmp/sdt_t").statement(0x110d)',
             'printf("%d %d\\\\n", %{ /* unprivileged */ /* pure */ '
             '((int64_t)(int32_t)((u_fetch_register(6))) & 0xffffffff) << 32 '
             '>> 32 %}, %{ /* unprivileged */ /* pure */ ((int64_t)(int64_t)'
             '((u_fetch_register(3)))) %})'),
}


def _stap_arguments(handler: str):
    """Each argument stap reads: (register, offset or None, size)."""
    found = []
    for match in re.finditer(
            r"user_int(\d+)\(\(%\{[^%]*u_fetch_register\((\d+)\) %\}\) \+ "
            r"\((-?\d+)\)\)|\(int64_t\)\(int(\d+)_t\)\(\(u_fetch_register"
            r"\((\d+)\)", handler):
        bits, register, offset, reg_bits, reg_only = match.groups()
        if bits:
            found.append((REGISTERS[int(register)], int(offset),
                          int(bits) // 8))
        else:
            found.append((REGISTERS[int(reg_only)], None,
                          int(reg_bits) // 8))
    return found


def test_p2_agrees_with_systemtap(kver, fixture):
    """The mark's address and each argument's register, offset and size
    are those stap -p2 resolved (see STAP_ORACLE for the command)."""
    for name, (point, handler) in STAP_ORACLE.items():
        site, = _program(kver, f'probe process("{fixture}").mark("{name}")'
                               ' { }').sites
        address = int(re.search(r"statement\((0x[0-9a-f]+)\)", point)
                      .group(1), 16)
        assert site.user.address == address
        ours = []
        for argument in sdt.parse_arguments(site.resolved.mark.arguments):
            operand = argument.operand
            if isinstance(operand, sdt.Memory):
                ours.append((operand.base, operand.displacement,
                             argument.size))
            else:
                ours.append((operand.member, None, operand.size))
        assert ours == _stap_arguments(handler)


def test_arguments_translate_to_user_reads(kver, fixture):
    c_source = _c_source(kver, f'''
        probe process("{fixture}").mark("order") {{
            printf("%d %d %s %s %s %s\\n", $arg1, $arg2, user_string($arg3),
                   $$parms, $$name, $$provider)
        }}''')
    handler = c_source.split("static void stpc_probe_0_0(", 1)[1]
    handler = handler.split("\n}\n", 1)[0]
    assert "((s64)(s32)(stpc_user_deref(c, (((u64)c->regs->cx) + " \
           "(u64)(8LL)), 4," in handler
    assert "((s64)(((u64)c->regs->ax)))" in handler
    assert '"$arg1=%#llx $arg2=%#llx $arg3=%#llx"' in handler
    assert '"order"' in handler and '"shop"' in handler
    assert "stpc_deref(" not in handler
    module = c_source.split("static struct stpc_uprobe stpc_uprobes[]", 1)[1]
    semaphore = next(n.semaphore for n in _notes(fixture)
                     if n.name == "order")
    assert f".ref_ctr_offset = " \
           f"{_section_offset(fixture, semaphore):#x}," in module


@pytest.mark.parametrize("body, message", [
    ("print($arg4)", "'$arg4': mark shop:order has 3 arguments"),
    ("print($arg0)", "'$arg0': mark shop:order has 3 arguments"),
    ("print($nosuch)", "unknown target variable '$nosuch' in mark "
                       "shop:order"),
    ("print($$return)", "'$$return' at a mark: only $$parms, $$vars, "
                        "$$locals, $$name, $$provider are available there"),
    ('print(@var("stock_left@uprobe_target.c"))',
     "no global variable 'stock_left' in uprobe_target.c at "
     'process("{b}").mark("order")'),
])
def test_errors_at_a_mark_are_located(kver, fixture, body, message):
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{fixture}").mark("order") '
                       f'{{ {body} }}')
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == message.format(b=fixture)
    assert errors[0].span is not None and errors[0].span.line == 1


def test_a_mark_shows_the_locals_in_scope_as_systemtap(kver, fixture):
    """$$locals at a mark: the locals of the function the mark is in, at
    its address, innermost scope first; the format is stap -p3's for the
    fixture built by gcc 12 -g -O2 (main's i is optimized out there)."""
    c_source = _c_source(kver, f'''
        probe process("{fixture}").mark("order") {{ println($$locals) }}
        probe process("{fixture}").mark("done") {{
            printf("%d %d\\n", $grand, $orders[1]->quantity)
        }}''')
    assert '"total=%#llx orders=[...] grand=%#llx i=\\077 traced=%#llx"' \
        in c_source
    # main's frame at the mark: its CFA from .eh_frame (rsp + 128)
    assert "((u64)c->regs->sp) + 128LL) + -112LL) + " in c_source


@pytest.mark.parametrize("point, message", [
    ('.mark("ordr")', "no mark matches 'ordr' in {b}"),
    ('.mark("order").return', 'expected .mark("NAME") or '
     '.provider("PROVIDER").mark("NAME") after process("PATH")'),
    ('.provider("nosuch").mark("*")', "no mark matches '*' in {b}"),
])
def test_point_errors(kver, fixture, point, message):
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{fixture}"){point} {{ }}')
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == message.format(b=fixture)


_MALFORMED_NOTES = r'''
/* Two marks whose notes carry argument strings no compiler writes. */
#define NOTE(name, args) __asm__ volatile(                                 \
	"990: nop\n"                                                        \
	".pushsection .note.stapsdt,\"?\",\"note\"\n"                      \
	".balign 4\n.4byte 992f-991f, 994f-993f, 3\n"                       \
	"991: .asciz \"stapsdt\"\n992: .balign 4\n"                         \
	"993: .8byte 990b, 0, 0\n.asciz \"bad\"\n.asciz \"" name "\"\n"     \
	".asciz \"" args "\"\n994: .balign 4\n.popsection\n")

int main(void)
{
	NOTE("size", "-4@%edi 3@%esi");
	NOTE("register", "8@%rxx");
	return 0;
}
'''


def test_a_malformed_argument_is_a_located_error(kver, tmp_path):
    source = tmp_path / "bad.c"
    source.write_text(_MALFORMED_NOTES)
    binary = tmp_path / "bad"
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(source)],
                   check=True)
    listed = list(list_points(f'process("{binary}").mark("*")', kver,
                              with_vars=True))
    assert listed == [f'process("{binary}").mark("register") $arg1:long',
                      f'process("{binary}").mark("size") $arg1:long '
                      "$arg2:long"]
    _program(kver, f'probe process("{binary}").mark("size") '
                   '{ print($arg1) }')     # the well-formed one reads
    for name, var, why in (
            ("size", "$arg2", "argument '3@%esi' has size 3: 1, 2, 4 or 8 "
                              "bytes expected"),
            ("register", "$arg1", "unknown register '%rxx'")):
        with pytest.raises(StpcError) as caught:
            _program(kver, f'probe process("{binary}").mark("{name}") '
                           f'{{ print({var}) }}')
        errors = getattr(caught.value, "errors", [caught.value])
        spec = "3@%esi" if name == "size" else "8@%rxx"
        assert errors[0].message == (
            f"'{var}' is not available at process(\"{binary}\").mark("
            f"\"{name}\"): its note's operand '{spec}' cannot be read: {why}")
        assert errors[0].span.col == len(f'probe process("{binary}")'
                                            f'.mark("{name}") {{ print(') + 1


def test_listing_the_fixtures_marks(kver, fixture):
    assert list(list_points(f'process("{fixture}").mark("*")', kver,
                            with_vars=True)) == [
        f'process("{fixture}").mark("done") $arg1:long $arg2:long',
        f'process("{fixture}").mark("order") $arg1:long $arg2:long '
        "$arg3:long"]


# stap -r 6.1.0-57-amd64 -L 'process("/usr/bin/python3.11").mark("*")'
# (SystemTap 4.8, python3.11 3.11.2-6+deb12u6, build-id below)
PYTHON_BUILD_ID = "571d98e01096d5c1c32420d229a6731a0a50d2a0"
STAP_PYTHON = """\
process("/usr/bin/python3.11").mark("audit") $arg1:long $arg2:long
process("/usr/bin/python3.11").mark("function__entry") $arg1:long $arg2:long $arg3:long
process("/usr/bin/python3.11").mark("function__return") $arg1:long $arg2:long $arg3:long
process("/usr/bin/python3.11").mark("gc__done") $arg1:long
process("/usr/bin/python3.11").mark("gc__start") $arg1:long
process("/usr/bin/python3.11").mark("import__find__load__done") $arg1:long $arg2:long
process("/usr/bin/python3.11").mark("import__find__load__start") $arg1:long
process("/usr/bin/python3.11").mark("line") $arg1:long $arg2:long $arg3:long
"""


@pytest.mark.skipif(not PYTHON.exists(), reason="no /usr/bin/python3.11")
def test_a_debian_binary_lists_its_marks(kver):
    """python3.11 ships marks with semaphores: -L lists each with its
    arguments, as readelf counts them (and, for the build stap was run
    on, exactly as stap lists them); every argument translates."""
    listed = list(list_points(f'process("{PYTHON}").mark("*")', kver,
                              with_vars=True))
    expected = sorted(
        f'process("{PYTHON}").mark("{name}")' + "".join(
            f" $arg{i}:long" for i in range(1, len(args.split()) + 1))
        for _, name, _, _, args in _readelf_notes(PYTHON))
    assert listed == expected
    with open(PYTHON, "rb") as stream:
        build_id = read_build_id(ELFFile(stream))
    if build_id == PYTHON_BUILD_ID:
        assert listed == STAP_PYTHON.splitlines()
    sites = _program(kver, f'probe process("{PYTHON}").mark("*") '
                           '{ println($$parms) }').sites
    assert all(s.user.semaphore_offset for s in sites)
    assert len(sites) == len(expected)
