"""DWARF types to compiler/ctype.py objects, and what a variable or
function DIE declares (its name and type)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from elftools.dwarf.die import DIE

from . import ctype as C
from .dies import attr, die_name, origin

if TYPE_CHECKING:
    from .subprograms import Subprogram


def variable_name(die: DIE) -> Optional[str]:
    return die_name(origin(die))


def variable_type(die: DIE) -> C.CType:
    return TypeReader().read(origin(die))


def function_return_type(sub: Subprogram) -> C.CType:
    return TypeReader().read(origin(sub.die))


class TypeReader:
    """DWARF type DIEs to compiler/ctype.py objects (memoised per DIE)."""

    def __init__(self):
        self.memo: Dict[int, C.CType] = {}

    def read(self, die: DIE) -> C.CType:
        """The type of a variable/function DIE (DW_AT_type), void if none."""
        if "DW_AT_type" not in die.attributes:
            return C.Void()
        return self.type(die.get_DIE_from_attribute("DW_AT_type"))

    def type(self, die: DIE) -> C.CType:
        key = die.offset
        if key in self.memo:
            return self.memo[key]
        maker = getattr(self, "_" + die.tag[len("DW_TAG_"):], None)
        if maker is None:
            result = C.Void()
            self.memo[key] = result
            return result
        return maker(die)

    def _remember(self, die: DIE, t: C.CType) -> C.CType:
        self.memo[die.offset] = t
        return t

    def _base_type(self, die):
        encoding = attr(die, "DW_AT_encoding", 0)
        signed = encoding in (0x05, 0x06, 0x0d)   # signed, signed_char, sfixed
        floating = encoding in (0x04, 0x03)
        return self._remember(die, C.Base(die_name(die) or "int",
                                          attr(die, "DW_AT_byte_size", 0),
                                          signed, floating))

    def _pointer_type(self, die):
        p = self._remember(die, C.Pointer(C.Void()))
        p.target = self.read(die)
        return p

    _reference_type = _pointer_type

    def _typedef(self, die):
        t = self._remember(die, C.Typedef(die_name(die) or "", C.Void()))
        t.target = self.read(die)
        return t

    def _qualified(self, die, qualifier):
        t = self._remember(die, C.Qualified(qualifier, C.Void()))
        t.target = self.read(die)
        return t

    def _const_type(self, die):
        return self._qualified(die, "const")

    def _volatile_type(self, die):
        return self._qualified(die, "volatile")

    def _restrict_type(self, die):
        return self._qualified(die, "restrict")

    def _atomic_type(self, die):
        return self._qualified(die, "_Atomic")

    def _enumeration_type(self, die):
        under = self.read(die)
        signed = isinstance(C.strip(under), C.Base) and C.strip(under).signed
        values = [(die_name(c), attr(c, "DW_AT_const_value", 0))
                  for c in die.iter_children()
                  if c.tag == "DW_TAG_enumerator"]
        return self._remember(die, C.Enum(die_name(die) or "",
                                          attr(die, "DW_AT_byte_size", 4),
                                          signed, values))

    def _aggregate(self, die, kind):
        s = self._remember(die, C.Struct(
            kind, die_name(die) or "", attr(die, "DW_AT_byte_size", 0),
            declaration=bool(attr(die, "DW_AT_declaration", False))))
        for child in die.iter_children():
            if child.tag == "DW_TAG_member":
                s.members.append(self._member(child))
        return s

    def _member(self, die) -> C.Member:
        offset = attr(die, "DW_AT_data_member_location", 0)
        if not isinstance(offset, int):
            offset = 0      # location expressions: only in C++
        bit_size = attr(die, "DW_AT_bit_size", 0)
        bit_offset = 0
        if bit_size and "DW_AT_data_bit_offset" in die.attributes:
            total = die.attributes["DW_AT_data_bit_offset"].value
            offset, bit_offset = total // 8, total % 8
        return C.Member(die_name(die) or "", offset, self.read(die),
                        bit_size, bit_offset)

    def _structure_type(self, die):
        return self._aggregate(die, "struct")

    def _union_type(self, die):
        return self._aggregate(die, "union")

    def _class_type(self, die):
        return self._aggregate(die, "struct")

    def _array_type(self, die):
        element = self.read(die)
        counts = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_subrange_type":
                if "DW_AT_count" in child.attributes:
                    counts.append(attr(child, "DW_AT_count", None))
                elif "DW_AT_upper_bound" in child.attributes:
                    upper = attr(child, "DW_AT_upper_bound", None)
                    counts.append(upper + 1 if isinstance(upper, int)
                                  else None)
                else:
                    counts.append(None)
        t: C.CType = element
        for count in reversed(counts or [None]):
            t = C.Array(t, count if isinstance(count, int) else None)
        return self._remember(die, t)

    def _subroutine_type(self, die):
        return self._remember(die, C.Function())
