"""A small, safe expression language for regions (tokenizer + recursive descent, no ``eval``).

Grammar (``-`` binds tighter than ``&``, which binds tighter than ``|``, as in Python)::

    expr   := inter ( "|" inter )*
    inter  := diff ( "&" diff )*
    diff   := atom ( "-" atom )*
    atom   := "(" expr ")"
            | "buffer" "(" expr "," DISTANCE ")"        DISTANCE: 100km, 500m, 12nmi
            | "geojson:" PATH                            PATH: up to a space, "," or ")"; or quoted
            | "h3:" RES ":" CELL ("," CELL)*              CELL: 15 hex digits
            | NAME                                        ISO code, country name, built-in name
            | "'" any text "'"                            a quoted name (e.g. 'South Africa')

A hyphen inside a word is part of the name only when the whole word is a known name
(``crimea-coast``); otherwise it is the difference operator (``UA-crimea`` = ``UA - crimea``).

Limits (each refused with a :class:`~skyfence.errors.ParseError` before any geometry is
built): an expression has at most :data:`MAX_EXPRESSION_CHARS` characters, at most
:data:`MAX_OPERANDS` operands and at most :data:`MAX_NESTING` levels of parentheses and
``buffer(...)``; an ``h3:`` list has at most :data:`MAX_H3_CELLS` cells; buffer distances
are at most :data:`~skyfence.regions.MAX_BUFFER_KM`; ``geojson:`` files are read within the
limits of :func:`~skyfence.regions.io.read_geojson_geometry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import h3
import numpy as np
from shapely.geometry.base import BaseGeometry

from skyfence.errors import ParseError
from skyfence.regions import _geo
from skyfence.regions._buffer import MAX_BUFFER_KM
from skyfence.regions.io import read_geojson_geometry
from skyfence.regions.region import Region
from skyfence.regions.worldview import Worldview, world

__all__ = [
    "parse_region",
    "RegionResolver",
    "geojson_references",
    "EXPRESSION_HELP",
    "MAX_EXPRESSION_CHARS",
    "MAX_OPERANDS",
    "MAX_NESTING",
    "MAX_H3_CELLS",
]

#: Longest region expression read (characters).
MAX_EXPRESSION_CHARS = 200_000
#: Most operands (names, files, cell lists) in one expression.
MAX_OPERANDS = 256
#: Deepest nesting of parentheses and ``buffer(...)``.
MAX_NESTING = 32
#: Most H3 cells in one ``h3:`` list.
MAX_H3_CELLS = 10_000

EXPRESSION_HELP = (
    "an ISO code (TW, UKR), a country name, a built-in name (crimea, crimea-coast), "
    "geojson:PATH, h3:RES:CELL,CELL, buffer(EXPR, 100km), A | B, A & B, A - B or (...)"
)

_UNITS_KM = {"km": 1.0, "m": 0.001, "nmi": 1.852}
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DIST = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(km|nmi|m)\b", re.IGNORECASE)
_CELL = re.compile(r"[0-9a-fA-F]{15}")


@dataclass
class _Tok:
    kind: str  # name, quoted, op, lparen, rparen, comma, geojson, h3, dist, end
    text: str
    pos: int
    value: object = None


class _Parser:
    def __init__(
        self,
        text: str,
        w: Worldview | None,
        geojson: Mapping[str, BaseGeometry] | None = None,
    ) -> None:
        self.text = text
        self.w = w
        self.geojson = geojson
        if len(text) > MAX_EXPRESSION_CHARS:
            raise ParseError(
                f"the expression has {len(text):,} characters; at most "
                f"{MAX_EXPRESSION_CHARS:,} are read",
                source="region expression",
            )
        self.toks = self._tokenize()
        operands = sum(t.kind in ("name", "quoted", "geojson", "h3") for t in self.toks)
        if operands > MAX_OPERANDS:
            raise ParseError(
                f"the expression has {operands} operands; at most {MAX_OPERANDS} are read "
                "(for many cells use one h3: list)",
                source="region expression",
            )
        self.i = 0
        self.depth = 0

    @cached_property
    def known(self) -> set[str]:
        """Every name of the worldview, upper case: only a hyphenated word needs them (made
        on first use; most expressions have none)."""
        return {n.upper() for n in self.w.names()} if self.w is not None else set()

    # -- tokens ---------------------------------------------------------------------------
    def fail(self, what: str, pos: int) -> ParseError:
        before, after = self.text[:pos], self.text[pos:]
        if len(before) > 60:
            before = "…" + before[-59:]
        if len(after) > 60:
            after = after[:59] + "…"
        shown = before + "⟨here⟩" + after
        return ParseError(
            f"{what} at position {pos} in {shown!r}; a region expression is " + EXPRESSION_HELP,
            source="region expression",
        )

    def _tokenize(self) -> list[_Tok]:
        t, n, i = self.text, len(self.text), 0
        out: list[_Tok] = []
        while i < n:
            ch = t[i]
            if ch.isspace():
                i += 1
            elif ch in "|&-":
                out.append(_Tok("op", ch, i))
                i += 1
            elif ch == "(":
                out.append(_Tok("lparen", ch, i))
                i += 1
            elif ch == ")":
                out.append(_Tok("rparen", ch, i))
                i += 1
            elif ch == ",":
                out.append(_Tok("comma", ch, i))
                i += 1
            elif ch in "'\"":
                end = t.find(ch, i + 1)
                if end < 0:
                    raise self.fail(f"unclosed quote {ch}", i)
                out.append(_Tok("quoted", t[i + 1 : end], i))
                i = end + 1
            elif t[i : i + 8].lower() == "geojson:":
                j = i + 8
                if j < n and t[j] in "'\"":
                    end = t.find(t[j], j + 1)
                    if end < 0:
                        raise self.fail("unclosed quote in geojson path", j)
                    path, i = t[j + 1 : end], end + 1
                else:
                    m = re.compile(r"[^\s,()]+").match(t, j)
                    if not m:
                        raise self.fail("expected a file path after 'geojson:'", j)
                    path, i = m.group(0), m.end()
                out.append(_Tok("geojson", path, j))
            elif t[i : i + 3].lower() == "h3:":
                m = re.compile(r"(\d+):").match(t, i + 3)
                if not m:
                    raise self.fail("expected h3:RES:CELL,CELL (e.g. h3:5:851e6227fffffff)", i + 3)
                res = int(m.group(1)) if len(m.group(1)) <= 2 else 99
                if not 0 <= res <= 15:
                    raise self.fail("an H3 resolution is 0..15", i + 3)
                j = m.end()
                cells = []
                while True:
                    while j < n and t[j].isspace():
                        j += 1
                    c = _CELL.match(t, j)
                    if not c:
                        raise self.fail("expected an H3 cell (15 hex digits)", j)
                    cells.append((c.group(0).lower(), j))
                    j = c.end()
                    k = j
                    while k < n and t[k].isspace():
                        k += 1
                    if k < n and t[k] == "," and _CELL.match(t, _skip_space(t, k + 1)):
                        if len(cells) >= MAX_H3_CELLS:
                            raise self.fail(f"more than {MAX_H3_CELLS:,} H3 cells in one list", k)
                        j = k + 1
                        continue
                    break
                out.append(_Tok("h3", t[i:j], i, (res, cells)))
                i = j
            else:
                d = _DIST.match(t, i)
                if d and (d.end() == n or not (t[d.end()].isalnum() or t[d.end()] == "_")):
                    km = float(d.group(1)) * _UNITS_KM[d.group(2).lower()]
                    out.append(_Tok("dist", d.group(0), i, km))
                    i = d.end()
                    continue
                m = _WORD.match(t, i)
                if not m:
                    raise self.fail(f"unexpected character {ch!r}", i)
                word = m.group(0)
                if "-" in word and word.upper() not in self.known:
                    # UA-crimea: a hyphen between unknown parts is the difference operator
                    pos = i
                    for k, part in enumerate(word.split("-")):
                        if k:
                            out.append(_Tok("op", "-", pos))
                            pos += 1
                        if not part:
                            raise self.fail("expected a name next to '-'", pos)
                        out.append(_Tok("name", part, pos))
                        pos += len(part)
                else:
                    out.append(_Tok("name", word, i))
                i = m.end()
        out.append(_Tok("end", "", n))
        return out

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != kind:
            got = tok.text or "end of text"
            raise self.fail(f"expected {what} but found {got!r}", tok.pos)
        return self.take()

    # -- grammar --------------------------------------------------------------------------
    def parse(self) -> Region:
        if self.peek().kind == "end":
            raise self.fail("empty expression", 0)
        region = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(
                f"expected an operator (|, &, -) or the end but found {tok.text!r}", tok.pos
            )
        return region

    def expr(self) -> Region:
        left = self.inter()
        while self.peek().kind == "op" and self.peek().text == "|":
            self.take()
            left = left | self.inter()
        return left

    def inter(self) -> Region:
        left = self.diff()
        while self.peek().kind == "op" and self.peek().text == "&":
            self.take()
            left = left & self.diff()
        return left

    def diff(self) -> Region:
        left = self.atom()
        while self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            left = left - self.atom()
        return left

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(
                f"parentheses and buffer(...) are nested more than {MAX_NESTING} deep", tok.pos
            )

    def atom(self) -> Region:
        tok = self.peek()
        if tok.kind == "lparen":
            self.nest(tok)
            self.take()
            inner = self.expr()
            self.expect("rparen", "')'")
            self.depth -= 1
            return inner
        if (
            tok.kind == "name"
            and tok.text.lower() == "buffer"
            and self.toks[self.i + 1].kind == "lparen"
        ):
            self.nest(tok)
            self.take()
            self.take()
            inner = self.expr()
            self.expect("comma", "',' and a distance, as in buffer(TW, 100km)")
            dist = self.expect("dist", "a distance with a unit (e.g. 100km, 500m, 12nmi)")
            self.expect("rparen", "')' closing buffer(...)")
            self.depth -= 1
            km = float(dist.value)  # type: ignore[arg-type]
            if not km <= MAX_BUFFER_KM:
                raise self.fail(
                    f"buffer distance {dist.text} is more than {MAX_BUFFER_KM:,.0f} km (half the "
                    "Earth's circumference; every place is closer than that to any region, so "
                    f"buffer(..., {MAX_BUFFER_KM:.0f}km) is the whole globe)",
                    dist.pos,
                )
            return inner.buffer(km)
        if tok.kind in ("name", "quoted"):
            self.take()
            assert self.w is not None
            return self.w.region(tok.text)
        if tok.kind == "geojson":
            self.take()
            if self.geojson is not None:
                if tok.text not in self.geojson:
                    raise self.fail(
                        f"geojson:{tok.text} is not among the geometries given (a sealed "
                        "policy carries every file's geometry and reads no file)",
                        tok.pos,
                    )
                geometry = self.geojson[tok.text]
            else:
                try:
                    path = Path(tok.text).expanduser()
                except RuntimeError:  # ~user that does not exist
                    raise self.fail(f"cannot expand the path {tok.text!r}", tok.pos) from None
                geometry = read_geojson_geometry(path)
            return Region(f"geojson:{tok.text}", Path(tok.text).name, geometry, kind="geojson")
        if tok.kind == "h3":
            self.take()
            res, cells = tok.value  # type: ignore[misc]
            ints = []
            for cell, pos in cells:
                if not h3.is_valid_cell(cell):
                    raise self.fail(f"{cell!r} is not a valid H3 cell", pos)
                if h3.get_resolution(cell) != res:
                    raise self.fail(
                        f"cell {cell} has resolution {h3.get_resolution(cell)}, not {res}", pos
                    )
                ints.append(h3.str_to_int(cell))
            geometry = _geo.cells_geometry(np.array(ints, dtype=np.uint64))
            return Region(
                tok.text, f"{len(ints)} H3 cells at resolution {res}", geometry, kind="h3"
            )
        got = tok.text or "end of text"
        raise self.fail(f"expected a region but found {got!r}", tok.pos)


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def geojson_references(expression: str) -> list[str]:
    """The ``PATH`` of every ``geojson:PATH`` in an expression, in order, without reading.

    Examples
    --------
    >>> geojson_references("UA - geojson:zone.geojson | buffer(geojson:'a b.json', 5km)")
    ['zone.geojson', 'a b.json']
    """
    if not isinstance(expression, str):
        raise ParseError(
            f"a region expression must be text, got {type(expression).__name__}",
            source="region expression",
        )
    return [t.text for t in _Parser(expression, None).toks if t.kind == "geojson"]


def parse_region(
    expression: str,
    w: Worldview | None = None,
    *,
    geojson: Mapping[str, BaseGeometry] | None = None,
) -> Region:
    """Build a :class:`Region` from an expression such as ``"UA - crimea"``.

    Parameters
    ----------
    expression : str
        See the module docstring for the grammar: ISO codes, built-in names,
        ``geojson:PATH``, ``h3:RES:CELL,CELL``, ``buffer(EXPR, 100km)``, ``|``, ``&``, ``-``,
        parentheses.
    w : Worldview, optional
        Where names are looked up (default :func:`world`).
    geojson : mapping of str to shapely geometry, optional
        The geometry of each ``geojson:PATH`` (keyed by ``PATH`` as written). When given, no
        file is read: a ``PATH`` missing from it is a :class:`~skyfence.errors.ParseError`.
        A sealed policy resolves its regions this way.

    Returns
    -------
    Region
        Its ``id`` is the expression text (stripped) unless it is a single name.

    Examples
    --------
    >>> r = parse_region("UA - crimea")
    >>> r.id, 550_000 < r.area_km2 < 580_000
    ('UA - crimea', True)
    """
    if not isinstance(expression, str):
        raise ParseError(
            f"a region expression must be text, got {type(expression).__name__}",
            source="region expression",
        )
    w = world() if w is None else w
    region = _Parser(expression, w, geojson).parse()
    text = " ".join(expression.split())
    if region.kind == "expression":
        region = Region(
            text,
            text,
            region.geometry,
            kind="expression",
            worldview=region.worldview or w.worldview,
        )
    return region


class RegionResolver:
    """``expr -> Region`` over one worldview: :func:`parse_region` bound to it, cached.

    Parameters
    ----------
    worldview : Worldview, optional
        Where names are looked up (default :func:`world`, loaded on first use).
    geojson : mapping of str to shapely geometry, optional
        The geometry of each ``geojson:PATH``; when given, no file is read (see
        :func:`parse_region`).

    Calling it as ``resolve(expr, geojson=mapping)`` resolves with other geometries for
    ``geojson:`` references (uncached); :meth:`with_geojson` binds them.

    Examples
    --------
    >>> import shapely
    >>> w = Worldview("boxes", [Region("AA", "Aland", shapely.box(0, 0, 1, 1), kind="country")])
    >>> resolve = RegionResolver(w)
    >>> resolve("AA").name, resolve("AA | AA") is resolve("AA | AA")
    ('Aland', True)
    """

    def __init__(
        self,
        worldview: Worldview | None = None,
        *,
        geojson: Mapping[str, BaseGeometry] | None = None,
    ) -> None:
        self._worldview = worldview
        self.geojson = None if geojson is None else dict(geojson)
        self._cache: dict[str, Region] = {}

    @property
    def worldview(self) -> Worldview:
        """The worldview names are looked up in."""
        if self._worldview is None:
            self._worldview = world()
        return self._worldview

    def with_geojson(self, geojson: Mapping[str, BaseGeometry]) -> RegionResolver:
        """The same worldview, with these geometries for ``geojson:`` (no file is read)."""
        return RegionResolver(self.worldview, geojson=geojson)

    def __call__(
        self, expression: str, *, geojson: Mapping[str, BaseGeometry] | None = None
    ) -> Region:
        if geojson is not None:
            return parse_region(expression, self.worldview, geojson=geojson)
        if expression not in self._cache:
            self._cache[expression] = parse_region(expression, self.worldview, geojson=self.geojson)
        return self._cache[expression]
