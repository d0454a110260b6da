"""Reading single DIEs: names, attributes, the DIE that declares another
(abstract origin, specification), and address ranges."""

from __future__ import annotations

from typing import List, Optional, Tuple

from elftools.dwarf.die import DIE


def attr(die: DIE, name: str, default):
    found = die.attributes.get(name)
    return found.value if found is not None else default


def die_name(die: DIE) -> Optional[str]:
    found = die.attributes.get("DW_AT_name")
    if found is None:
        return None
    value = found.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) \
        else str(value)


def origin(die: DIE) -> DIE:
    """The DIE that holds a DIE's name and type (abstract origin or
    specification), followed to the end."""
    seen = 0
    while seen < 8:
        for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
            if link in die.attributes:
                die = die.get_DIE_from_attribute(link)
                break
        else:
            return die
        seen += 1
    return die


def die_ranges(dwarf, die: DIE, cu=None) -> List[Tuple[int, int]]:
    """[low, high) address ranges of a DIE (low_pc/high_pc or
    DW_AT_ranges)."""
    attrs = die.attributes
    if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
        low = attrs["DW_AT_low_pc"].value
        high = attrs["DW_AT_high_pc"]
        end = high.value if high.form == "DW_FORM_addr" \
            else low + high.value
        return [(low, end)]
    if "DW_AT_ranges" in attrs:
        ranges = dwarf.range_lists()
        if ranges is None:
            return []
        cu = cu or die.cu
        entries = ranges.get_range_list_at_offset(
            attrs["DW_AT_ranges"].value, cu=cu) \
            if die.tag != "DW_TAG_compile_unit" or \
            attrs["DW_AT_ranges"].form != "DW_FORM_rnglistx" \
            else ranges.get_range_list_at_offset_ex(
                attrs["DW_AT_ranges"].value)
        return _absolute_ranges(entries, cu)
    return []


def _absolute_ranges(entries, cu) -> List[Tuple[int, int]]:
    base = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    base = base.value if base is not None else 0
    spans = []
    for entry in entries:
        if hasattr(entry, "base_address"):
            base = entry.base_address
            continue
        absolute = getattr(entry, "is_absolute", False)
        offset = 0 if absolute else base
        spans.append((entry.begin_offset + offset,
                      entry.end_offset + offset))
    return spans
