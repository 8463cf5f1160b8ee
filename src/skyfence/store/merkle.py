"""RFC 9162 Merkle trees: hashes, inclusion and consistency proofs, and their verification.

Pure functions over SHA-256; no I/O. The tree over ``n`` leaves is the one of RFC 9162 §2.1.1
(identical to RFC 6962 §2.1)::

    MTH({})      = SHA-256()
    MTH({d(0)})  = SHA-256(0x00 || d(0))
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k = largest power of 2 < n

Every subtree the RFC's recursion touches is either a *perfect* subtree (``2**level`` leaves
starting at a multiple of ``2**level``), addressed here as ``(level, index)``, or a right edge
made of several perfect subtrees. A store that keeps every perfect subtree's hash (at most
``2n`` of them) answers any proof with ``O(log n)`` look-ups: :func:`perfect_cover` lists the
nodes a range needs, :func:`inclusion_ranges` / :func:`consistency_ranges` list the ranges a
proof needs, and :func:`range_hash` folds them.

Examples
--------
>>> leaves = [leaf_hash(bytes([i])) for i in range(5)]
>>> tree = MemoryTree(leaves)
>>> proof = tree.inclusion_proof(3)
>>> verify_inclusion(leaves[3], 3, 5, proof, tree.root())
True
>>> verify_consistency(2, 5, tree.root(2), tree.root(5), tree.consistency_proof(2, 5))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from skyfence.errors import InputError
from skyfence.transparency.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "largest_power_of_two_below",
    "perfect_cover",
    "range_hash",
    "inclusion_ranges",
    "consistency_ranges",
    "root_from_leaf_hashes",
    "verify_inclusion",
    "verify_consistency",
    "root_from_inclusion_proof",
    "MemoryTree",
    "NodeKey",
]

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree: leaves ``[index * 2**level, (index+1) * 2**level)``."""


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    if n < 2:
        raise InputError(f"largest power of two below {n} is undefined; expected n >= 2")
    return 1 << ((n - 1).bit_length() - 1)


def _is_perfect(start: int, end: int) -> int | None:
    """The level if ``[start, end)`` is an aligned perfect subtree, else ``None``."""
    width = end - start
    if width > 0 and width & (width - 1) == 0 and start % width == 0:
        return width.bit_length() - 1
    return None


def perfect_cover(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees whose hashes give ``MTH(D[start:end])``, left to right.

    Splits the range the way the RFC's recursion does, so :func:`range_hash` can fold them.
    """
    if end <= start:
        raise InputError(f"empty leaf range [{start}, {end}); expected start < end")
    level = _is_perfect(start, end)
    if level is not None:
        return [(level, start >> level)]
    width = end - start
    if width == 1:  # pragma: no cover - width 1 is always perfect
        return [(0, start)]
    k = largest_power_of_two_below(width)
    return perfect_cover(start, start + k) + perfect_cover(start + k, end)


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """``MTH(D[start:end])`` from the perfect-subtree hashes in ``nodes``."""
    level = _is_perfect(start, end)
    if level is not None:
        return nodes[(level, start >> level)]
    k = largest_power_of_two_below(end - start)
    return node_hash(range_hash(start, start + k, nodes), range_hash(start + k, end, nodes))


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH make ``PATH(index, D[size])`` (RFC 9162 §2.1.3.1), leaf to root."""
    if not 0 <= index < size:
        raise InputError(f"no entry {index} in a tree of size {size}; expected 0 <= index < {size}")
    out: list[tuple[int, int]] = []
    start, end, m = 0, size, index
    # walk root to leaf, then reverse: PATH(m, D[n]) = PATH(...) : MTH(sibling)
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if m < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTH make ``PROOF(old_size, D[new_size])`` (RFC 9162 §2.1.4.1)."""
    if not 0 <= old_size <= new_size:
        raise InputError(
            f"no consistency proof from size {old_size} to size {new_size}; "
            "expected 0 <= old size <= new size"
        )
    if old_size == 0 or old_size == new_size:
        return []
    out: list[tuple[int, int]] = []
    start, end, m, whole = 0, new_size, old_size, True
    # SUBPROOF(m, D[start:end], whole), unrolled; appended hashes are collected root-first
    while True:
        n = end - start
        if m == n:
            if not whole:
                out.append((start, end))
            break
        k = largest_power_of_two_below(n)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, whole = start + k, m - k, False
    # SUBPROOF(...) : MTH(...) puts the deepest hash first
    out.reverse()
    return out


class MemoryTree:
    """A Merkle tree in memory keeping every perfect subtree (``levels[l][i]``).

    Appending is amortised O(1); roots and proofs for any earlier size are O(log n).
    Used by the offline verifier and as the reference in tests.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (already ``leaf_hash``-ed)."""
        self.levels[0].append(leaf)
        level, idx, h = 0, len(self.levels[0]) - 1, leaf
        while idx & 1:
            h = node_hash(self.levels[level][idx - 1], h)
            level, idx = level + 1, idx >> 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(h)

    def node(self, key: NodeKey) -> bytes:
        return self.levels[key[0]][key[1]]

    def _check_size(self, size: int | None) -> int:
        n = len(self) if size is None else size
        if not 0 <= n <= len(self):
            raise InputError(f"tree size {n} out of range; the tree has {len(self)} leaves")
        return n

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else range_hash(0, n, _NodeView(self))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        n = self._check_size(size)
        view = _NodeView(self)
        return [range_hash(a, b, view) for a, b in inclusion_ranges(index, n)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        n = self._check_size(new_size)
        view = _NodeView(self)
        return [range_hash(a, b, view) for a, b in consistency_ranges(old_size, n)]


class _NodeView(Mapping[NodeKey, bytes]):
    def __init__(self, tree: MemoryTree) -> None:
        self._tree = tree

    def __getitem__(self, key: NodeKey) -> bytes:
        return self._tree.levels[key[0]][key[1]]

    def __iter__(self) -> Iterator[NodeKey]:  # pragma: no cover - not needed
        for level, nodes in enumerate(self._tree.levels):
            for idx in range(len(nodes)):
                yield (level, idx)

    def __len__(self) -> int:  # pragma: no cover - not needed
        return sum(len(level) for level in self._tree.levels)
