"""A zip member compressed in segments, and its unchanged segments copied into the next
save as they are (not inflated and compressed again).

This module's saves compress a big worksheet part in segments
(:func:`datasheet_writer.package_pieces`): the part's head, its rows in runs, its tail,
each by a fresh compressor, every segment but the last ending with a sync flush — an empty
stored block, the four bytes ``00 00 ff ff`` on a byte boundary. A segment made so refers
to nothing before it, so its compressed bytes, copied into another deflate stream after a
segment boundary, inflate to the same bytes there (pigz joins its blocks the same way).

A save that puts rows of the file back unchanged — a data sheet a command did not rewrite,
a kept table of a stage sheet (the plan history of years) — copies the segments lying
wholly inside those rows (:meth:`SegmentMap.pieces` gives them as :class:`Deflated`) and
compresses only what is around them. Whether a member is made of such segments is not
assumed but proved (:meth:`SegmentMap.of_member`): every stretch between two markers is
inflated by a fresh inflater — which fails on a reference to bytes before the stretch, so a
stretch that inflates is self-contained — and the sizes and CRCs of the stretches must add
up to the member's. A member written otherwise (by Excel, LibreOffice, or as one stream)
or a chance ``00 00 ff ff`` in the compressed bytes fails that proof: the member is then
inflated and compressed again, as before.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import SopError
from .datasheet_xml import _data_zlib, member_span

#: the empty stored block a sync flush ends with (on a byte boundary)
SYNC_MARKER = b"\x00\x00\xff\xff"
_PIECE = 1 << 22


@dataclass
class Deflated:
    """Bytes of a zip member compressed on their own as raw deflate. A segment that is not
    the member's last ends on a byte boundary without the final-block flag (a sync flush),
    so segments compressed apart — at another time, in another thread — join into one
    valid deflate stream (as pigz does); their CRCs combine (``crc32_combine``)."""

    pieces: list
    crc: int  # CRC-32 of the uncompressed bytes
    size: int  # number of uncompressed bytes


@dataclass(frozen=True)
class Segment:
    """One self-contained segment of a member: where its compressed bytes are, which bytes
    of the member it inflates to, and their CRC."""

    packed_start: int
    packed_end: int
    start: int
    end: int
    crc: int
    last: bool  # the member's last segment (final-block flag set): never copied


class SegmentMap:
    """A member proved to be made of self-contained segments (:meth:`of_member`)."""

    def __init__(self, packed: memoryview, segments: list[Segment]) -> None:
        self.packed, self.segments = packed, segments

    @classmethod
    def of_member(cls, data: bytes, info: zipfile.ZipInfo, keep: bool = False
                  ) -> tuple[SegmentMap | None, bytearray | None]:
        """The member's segments, each inflated alone (and ``keep``: the member's bytes,
        inflated, filled into one buffer); ``(None, None)`` when the member is not made of
        self-contained segments, or is damaged (the caller then reads it the usual way,
        which reports damage)."""
        span = member_span(data, info)
        if span is None:
            return None, None
        packed = memoryview(data)[span[0]:span[1]]
        bounds = _marker_ends(data, *span)
        if not bounds:  # one stream: nothing to copy
            return None, None
        segments = []
        whole = bytearray(info.file_size) if keep else None
        start, packed_start, total_crc = 0, 0, 0
        for packed_end in [*bounds, len(packed)]:
            last = packed_end == len(packed)
            inflater = _data_zlib.decompressobj(-15)
            crc, size = 0, 0
            try:
                for out in inflated_pieces(inflater, packed, packed_start, packed_end):
                    crc = _data_zlib.crc32(out, crc)
                    size += len(out)
                    if start + size > info.file_size:
                        return None, None
                    if whole is not None:
                        whole[start + size - len(out):start + size] = out
            except Exception:  # a stretch that is not self-contained (or damage)
                return None, None
            if inflater.eof != last or inflater.unused_data or inflater.unconsumed_tail:
                return None, None  # (a stream that ends inside the stretch: unused data)
            segments.append(Segment(packed_start, packed_end, start, start + size, crc, last))
            total_crc = _data_zlib.crc32_combine(total_crc, crc, size) if start else crc
            start += size
            packed_start = packed_end
        if start != info.file_size or total_crc != info.CRC:
            return None, None
        return cls(packed, segments), whole

    def inflate(self, start: int, stop: int) -> Iterator[bytes]:
        """The member's bytes ``start`` … ``stop`` - 1, inflated from the segments that
        hold them (each from its own start), in pieces."""
        for seg in self.segments:
            if seg.end <= start or seg.start >= stop:
                continue
            at = seg.start
            inflater = _data_zlib.decompressobj(-15)
            for out in inflated_pieces(inflater, self.packed, seg.packed_start, seg.packed_end):
                lo, hi = max(start, at), min(stop, at + len(out))
                if hi > lo:
                    yield out[lo - at:hi - at]
                at += len(out)
                if at >= stop:
                    return
            if at != seg.end:  # (the map was made from these very bytes)
                raise SopError("a sheet of the workbook changed while it was saved",
                               "The workbook was not changed.")

    def pieces(self, start: int, stop: int) -> Iterator[bytes | Deflated]:
        """The member's bytes ``start`` … ``stop`` - 1 for a save: every segment lying
        wholly inside as its compressed bytes (a :class:`Deflated` to copy), what lies
        around them inflated (bytes, to be compressed again)."""
        at = start
        for seg in self.segments:
            if seg.end <= start or seg.start >= stop or seg.start == seg.end:
                continue
            if seg.start >= start and seg.end <= stop and not seg.last:
                if seg.start > at:
                    yield from self.inflate(at, seg.start)
                yield Deflated([self.packed[seg.packed_start:seg.packed_end]], seg.crc,
                               seg.end - seg.start)
                at = seg.end
        if at < stop:
            yield from self.inflate(at, stop)


def inflated_pieces(inflater, packed: memoryview, begin: int, end: int,
                    most: int | None = None) -> Iterator[bytes]:
    """``packed[begin:end]`` through ``inflater``, fed and given out in pieces of at most
    ``most`` bytes (:data:`_PIECE`) — with what the inflater still holds once the input
    is used up (a long match whose input was read but whose bytes were not all given out
    yet)."""
    most = most or _PIECE
    for pos in range(begin, end, most):
        chunk = packed[pos:min(end, pos + most)]
        while chunk:
            out = inflater.decompress(chunk, most)
            chunk = inflater.unconsumed_tail
            if out:
                yield out
    while not inflater.eof:
        out = inflater.decompress(b"", most)
        if not out:
            return
        yield out


def _marker_ends(data: bytes, begin: int, end: int) -> list[int]:
    """Where each ``00 00 ff ff`` of the compressed bytes ``data[begin:end]`` ends,
    relative to ``begin`` (a candidate segment end), ascending; ``end`` itself is not
    one."""
    out, pos = [], begin
    while True:
        pos = data.find(SYNC_MARKER, pos, end)
        if pos < 0:
            return out
        if pos + len(SYNC_MARKER) < end:
            out.append(pos + len(SYNC_MARKER) - begin)
        pos += 1
