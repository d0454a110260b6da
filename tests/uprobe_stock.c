/*
 * The uprobe fixture's second compilation unit, linked into the VM
 * cases' uprobe_target (tests/vmcases.py) and the host tests' copy: its
 * globals are another unit's than the probed functions', for
 * @var("name@uprobe_stock.c") and @var("name", "PATH").  Nothing in
 * uprobe_target.c refers to it, so that file still builds alone; the
 * constructor changes stock_left at run time, so a probe that reads 92
 * read the program's memory, not the file's initial value.
 */
long stock_left = 100;
const char *stock_name = "widgets";

__attribute__((constructor)) static void stock_open(void)
{
	stock_left -= 8;
}
