"""process("PATH").function(...) probes, on the host: resolution against
tests/uprobe_target.c built with -g -O2 (as PIE and not), file offsets
checked against nm and readelf, the errors, -l/-L, the build for both
kernels, and the loader's build-id check.  The VM cases (tests/vmcases.py,
uprobe_cases) run them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stpc.compiler.driver import Compilation, CompileOptions
from stpc.compiler.errors import StpcError
from stpc.compiler.ir import ProbeKind
from stpc.compiler.listing import list_points
from stpc.loader import probed
from stpc.loader.kmod import LoaderError

SOURCE = Path(__file__).resolve().parent / "uprobe_target.c"
# the fixture's second compilation unit: globals of another unit
STOCK = SOURCE.with_name("uprobe_stock.c")


def _build(directory: Path, *flags: str) -> Path:
    binary = directory / "uprobe_target"
    subprocess.run(["gcc", "-g", "-O2", *flags, "-o", str(binary),
                    str(SOURCE), str(STOCK)], check=True)
    return binary


@pytest.fixture(scope="module", params=["pie", "no-pie"])
def binary(request, tmp_path_factory) -> Path:
    flags = ("-no-pie",) if request.param == "no-pie" else ()
    return _build(tmp_path_factory.mktemp(request.param), *flags)


def _line(name: str) -> int:
    """The line declaring function ``name`` in the fixture's source."""
    lines = SOURCE.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1)
                if re.search(rf"\b{name}\(", line))


def _program(kver, script: str):
    return Compilation(script, "t.stp",
                       CompileOptions(kernel_release=kver)).program()


def _nm_address(binary: Path, name: str) -> int:
    out = subprocess.run(["nm", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return next(int(line.split()[0], 16) for line in out.splitlines()
                if line.split()[-1] == name)


def _readelf_offset(binary: Path, address: int) -> int:
    """vaddr -> file offset through readelf's LOAD lines."""
    out = subprocess.run(["readelf", "-lW", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[:1] == ["LOAD"]:
            offset, vaddr, filesz = (int(fields[i], 16) for i in (1, 2, 4))
            if vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
    raise AssertionError(f"{address:#x} in no LOAD segment")


def _build_id(binary: Path) -> str:
    out = subprocess.run(["readelf", "-n", str(binary)], capture_output=True,
                         text=True, check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def test_entry_and_return_sites_sit_at_the_functions_file_offsets(
        kver, binary):
    program = _program(kver, f'''
        probe process("{binary}").function("order_total"),
              process("{binary}").function("count_up").return {{ }}''')
    entry, ret = program.sites
    assert (entry.kind, ret.kind) == (ProbeKind.UPROBE, ProbeKind.URETPROBE)
    for site, name in ((entry, "order_total"), (ret, "count_up")):
        address = _nm_address(binary, name)
        assert site.user.address == address
        assert site.user.offset == _readelf_offset(binary, address)
        assert site.user.path == str(binary)
        assert site.user.build_id == _build_id(binary)
    where = f'order_total@{SOURCE}:{_line("order_total")}'
    assert entry.description == \
        f'process("{binary}").function("{where}")'
    assert ret.description.endswith('.function("count_up@'
                                    f'{SOURCE}:{_line("count_up")}").return')


def test_a_non_pie_program_is_not_placed_at_its_address(kver, tmp_path):
    binary = _build(tmp_path, "-no-pie")
    site, = _program(kver, f'probe process("{binary}")'
                           '.function("count_up") { }').sites
    assert site.user.offset == site.user.address - 0x400000


def test_a_glob_takes_the_inlined_helper_and_call_leaves_it(kver, binary):
    every = _program(kver, f'probe process("{binary}").function("*") {{ }}')
    names = sorted(s.user.function for s in every.sites)
    assert {"count_up", "main", "order_total", "price_of"} <= set(names)
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{binary}")'
                       '.function("price_of").call { }')
    assert caught.value.message.startswith("no function matches 'price_of'")


def test_a_program_is_searched_in_path(kver, binary, monkeypatch):
    monkeypatch.setenv("PATH", str(binary.parent))
    site, = _program(kver, 'probe process("uprobe_target")'
                           '.function("count_up") { }').sites
    assert site.user.path == str(binary)


def test_target_variables_are_read_from_user_memory(kver, binary):
    c_source = Compilation(f'''
        probe process("{binary}").function("order_total") {{
            printf("%d %s %s\\n", $o->quantity, user_string($label),
                   $$parms$)
        }}''', "t.stp", CompileOptions(kernel_release=kver)).c_source()
    assert "stpc_user_deref(c, (((u64)c->regs->di) + 8), 4," in c_source
    assert "stpc_user_string_or(c, " in c_source
    handler = c_source.split("static void stpc_probe_0_0(", 1)[1]
    assert "stpc_deref(" not in handler.split("\n}\n", 1)[0]


def test_the_programs_globals_are_read_at_the_load_bias(kver, binary):
    """$name and @var("name@file") of a file-scope variable: its
    link-time address plus the bias, the uprobe's ip less the probed
    instruction's link-time address (the function's entry for a .return,
    which reads them at entry)."""
    c_source = Compilation(f'''
        probe process("{binary}").function("count_up") {{
            printf("%d %d\\n", $shop_order_semaphore,
                   @var("shop_done_semaphore@uprobe_target.c"))
        }}
        probe process("{binary}").function("count_up").return {{
            println($shop_order_semaphore)
        }}''', "t.stp", CompileOptions(kernel_release=kver)).c_source()
    entry = _nm_address(binary, "count_up")
    for name in ("shop_order_semaphore", "shop_done_semaphore"):
        assert (f"stpc_user_deref(c, ((u64){_nm_address(binary, name):#x}ULL"
                f" + ((u64)instruction_pointer(c->regs) - {entry:#x}ULL)), "
                "2, ") in c_source
    assert c_source.count("instruction_pointer(c->regs) - ") == 3


def _at_load_bias(binary: Path, name: str, probe_address: int) -> str:
    """The C of global ``name``'s address in the probed task."""
    return (f"((u64){_nm_address(binary, name):#x}ULL + ((u64)"
            f"instruction_pointer(c->regs) - {probe_address:#x}ULL))")


def test_var_finds_a_global_of_another_unit(kver, binary):
    """@var("name@file") and @var("name", "PATH") look in every unit of
    the program, at a function and at a mark (whose function's DWARF
    gives $name of its own unit)."""
    c_source = Compilation(f'''
        probe process("{binary}").function("count_up") {{
            printf("%d %d\\n", @var("stock_left@uprobe_stock.c"),
                   @var("stock_left", "{binary}"))
        }}
        probe process("{binary}").mark("done") {{
            printf("%d %d\\n", @var("stock_left"), $shop_done_semaphore)
        }}''', "t.stp", CompileOptions(kernel_release=kver)).c_source()
    done, = _program(kver, f'probe process("{binary}").mark("done") '
                           '{ }').sites
    entry = _nm_address(binary, "count_up")
    assert c_source.count(_at_load_bias(binary, "stock_left", entry)) == 2
    assert _at_load_bias(binary, "stock_left", done.user.address) \
        in c_source
    assert _at_load_bias(binary, "shop_done_semaphore",
                         done.user.address) in c_source


def test_a_return_reads_parameters_at_entry(kver, binary):
    """@entry($label) and $o->id (SystemTap's implicit @entry) are read
    by the uretprobe's entry handler into the values the return handler
    gets (runtime_c/uentry.c)."""
    c_source = Compilation(f'''
        probe process("{binary}").function("order_total").return {{
            printf("%d %d %s\\n", $o->id, $return,
                   user_string(@entry($label)))
        }}''', "t.stp", CompileOptions(kernel_release=kver)).c_source()
    entry = c_source.split("static void stpc_entry_0(", 1)[1]
    entry = entry.split("\n}\n", 1)[0]
    assert "((s64 *)c->data)[0] = ((s64)(stpc_user_deref(c, " \
        "((u64)c->regs->di), 8," in entry
    assert "((s64 *)c->data)[1] = ((s64)(((u64)c->regs->si)));" in entry
    handler = c_source.split("static void stpc_probe_0_0(", 1)[1]
    handler = handler.split("\n}\n", 1)[0]
    assert "c->regs->di" not in handler and "c->regs->si" not in handler
    assert "(((s64 *)c->data)[0])" in handler
    assert ".entry_size = 16," in c_source


def test_a_return_keeps_at_most_4096_bytes_of_entry_values(kver, binary):
    """Numbers take 8 bytes, strings MAXSTRINGLEN (512): eight strings
    fill the table's 4096 bytes a call, a ninth is refused."""
    numbers = " + ".join("@entry($limit * 2)" for _ in range(33))
    _program(kver, f'probe process("{binary}").function("count_up")'
                   f'.return {{ println({numbers}) }}')
    strings = ", ".join(f"@entry(sprint($limit, {i}))" for i in range(9))
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{binary}").function("count_up")'
                       f'.return {{ println({strings}) }}')
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message.startswith("the values this .return probe "
                                        "reads at entry take more than "
                                        "4096 bytes a call")


@pytest.mark.parametrize("script, message", [
    ('probe process("{b}").function("order_totl") {{ }}',
     "no function matches 'order_totl' in {b}"),
    ('probe process("/no/such/program").function("f") {{ }}',
     "program /no/such/program does not exist"),
    ('probe process("stpc-no-such-program").function("f") {{ }}',
     "no program 'stpc-no-such-program' in $PATH"),
    ('probe process("{b}").function("count_up").return '
     '{{ print(@entry(@entry($limit) + 1)) }}',
     "@entry inside @entry: its expression is read at entry already"),
    ('probe process("{b}").plt("tick") {{ }}',
     'expected .function("PATTERN"), .statement("PATTERN") or '
     '.mark("NAME") after process("PATH")'),
    ('probe process("{b}").statement("count_up@*:1") {{ }}',
     "no statement at line 1 of count_up"),
    ('probe process("{b}").function("count_up") '
     '{{ print(@var("shop_order_semaphore@other.c")) }}',
     "no global variable 'shop_order_semaphore' in other.c at "
     f'process("{{b}}").function("count_up@{SOURCE}:{_line("count_up")}")'),
    # as SystemTap: $name is a global of the probed function's unit only
    ('probe process("{b}").function("count_up") {{ print($stock_left) }}',
     "unknown target variable '$stock_left' in count_up"),
    ('probe process("{b}").function("count_up") '
     '{{ print(@var("stock_left", "/bin/true")) }}',
     "@var's module must be the probed program {b}"),
    ('probe process("{b}").function("count_up") '
     '{{ print(@var("stock_left", 1)) }}',
     "@var's module is a string: the program's path"),
])
def test_errors_are_located(kver, binary, script, message):
    with pytest.raises(StpcError) as caught:
        _program(kver, script.format(b=binary))
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == message.format(b=binary)
    assert errors[0].span is not None


def test_without_dwarf_functions_come_from_the_symbol_table(kver, binary,
                                                            tmp_path):
    stripped = tmp_path / "stripped"
    subprocess.run(["strip", "--strip-debug", "-o", str(stripped),
                    str(binary)], check=True)
    site, = _program(kver, f'probe process("{stripped}")'
                           '.function("count_up").return { }').sites
    assert site.user.offset == _readelf_offset(
        stripped, _nm_address(stripped, "count_up"))
    assert site.resolved is None
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{stripped}").function("count_up") '
                       '{ print($limit) }')
    assert caught.value.message == (f"'$limit': {stripped} has no DWARF: "
                                    "target variables cannot be read")
    # a mark then has only its arguments
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{stripped}").mark("order") '
                       '{ print($total) }')
    errors = getattr(caught.value, "errors", [caught.value])
    assert errors[0].message == ("'$total': a mark has no variables but "
                                 "its arguments (3 arguments at mark "
                                 "shop:order)")


def test_list_and_list_with_variables(kver, binary):
    point = f'process("{binary}").function("order_total")'
    listed, = list_points(point, kver, with_vars=True)
    assert listed == (f'process("{binary}").function("order_total@{SOURCE}'
                      f':{_line("order_total")}") $o:const struct order * '
                      '$label:const char *')
    returned, = list_points(f'process("{binary}").function("count_up")'
                            '.return', kver, with_vars=True)
    assert returned.endswith(".return $return:int @entry($limit):int")


@pytest.mark.skipif(not Path("/bin/ls").exists(), reason="no /bin/ls")
def test_ls_lists_from_its_dynamic_symbols(kver):
    listed = list(list_points('process("/bin/ls").function("*")', kver))
    assert listed and all(line.startswith('process("/bin/ls").function("')
                          for line in listed)


@pytest.mark.kbuild
def test_builds_for_both_kernels(kver, second_kver, binary, tmp_path,
                                 monkeypatch):
    """Both uprobe API headers, a mark's semaphore (ref_ctr) included."""
    monkeypatch.setenv("STPC_CACHE_DIR", str(tmp_path / "cache"))
    script = f'''
        probe process("{binary}").function("order_total") {{
            printf("%d %s\\n", $o->id, user_string($o->tag)) }}
        probe process("{binary}").function("count_up").return {{
            println($return + @entry($limit)) }}
        probe process("{binary}").mark("order") {{
            printf("%d %d %s\\n", $arg1, $arg2, $$parms) }}
        probe process("{binary}").function("count_up") {{
            println($shop_order_semaphore) }}'''
    for release in (kver, second_kver):
        assert Compilation(script, "t.stp", CompileOptions(
            kernel_release=release)).module().exists()


def test_the_loader_reads_the_build_id_readelf_shows(binary):
    assert probed.program_build_id(str(binary)) == _build_id(binary)


def test_the_loader_refuses_another_file_at_the_path(binary, tmp_path):
    other = tmp_path / "other"
    shutil.copy(binary, other)
    probed.check_program(str(other), _build_id(binary))
    with pytest.raises(LoaderError) as caught:
        probed.check_program(str(other), "00" * 20)
    assert str(caught.value) == (
        f"{other} is not the file the probes were placed in: its build-id "
        f"is {_build_id(binary)}, expected {'00' * 20}")
    with pytest.raises(LoaderError):
        probed.check_program(str(tmp_path / "gone"), _build_id(binary))


LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")


@pytest.mark.skipif(not LIBC.exists(), reason="no x86-64 glibc")
def test_libc_malloc_is_placed_at_its_dynamic_symbol(kver):
    """Found by name even where libc's DWARF is installed and calls it
    __libc_malloc."""
    out = subprocess.run(["readelf", "-sW", "--dyn-syms", str(LIBC)],
                         capture_output=True, text=True, check=True).stdout
    address = next(int(line.split()[1], 16) for line in out.splitlines()
                   if line.split()[-1:] == ["malloc@@GLIBC_2.2.5"])
    site, = _program(kver, f'probe process("{LIBC}").function("malloc") '
                           '{ }').sites
    assert site.user.address == address
    assert site.user.offset == _readelf_offset(LIBC, address)


def _line_addresses(binary: Path, line: int) -> list:
    """The statement addresses objdump's decoded line table gives a line
    of the fixture's source."""
    out = subprocess.run(["objdump", "--dwarf=decodedline", str(binary)],
                         capture_output=True, text=True, check=True).stdout
    found = []
    for row in out.splitlines():
        fields = row.split()
        if len(fields) >= 3 and fields[0] == SOURCE.name and \
                fields[1] == str(line) and fields[-1] == "x":
            found.append(int(fields[2], 16))
    return found


def test_a_statement_sits_at_the_first_address_of_its_line(kver, binary):
    line = next(i for i, text in enumerate(
        SOURCE.read_text().splitlines(), 1) if "/* loop body */" in text)
    site, = _program(kver, f'probe process("{binary}")'
                           f'.statement("count_up@*:{line}") '
                           '{ printf("%d %d\\n", $i, $sum) }').sites
    assert site.user.address == min(_line_addresses(binary, line))
    assert site.user.offset == _readelf_offset(binary, site.user.address)
    assert site.description == (f'process("{binary}").statement('
                                f'"count_up@{SOURCE}:{line}")')


def test_a_statement_needs_dwarf(kver, binary, tmp_path):
    stripped = tmp_path / "stripped"
    subprocess.run(["strip", "--strip-debug", "-o", str(stripped),
                    str(binary)], check=True)
    with pytest.raises(StpcError) as caught:
        _program(kver, f'probe process("{stripped}")'
                       '.statement("count_up@*:36") { }')
    assert caught.value.message == (f"{stripped} has no DWARF: statement "
                                    "probes need its line table")
