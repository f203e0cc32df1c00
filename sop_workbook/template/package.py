"""Packaging of the macro workbook: text sources in ``xl/`` → the parts of a reproducible ``.xlsm``.

Three steps, each deterministic (same inputs → same bytes):

- :func:`build_vba_project` compiles ``xl/vba/*.bas`` / ``*.cls`` into ``vbaProject.bin``
  (MS-OVBA) with PyPI ``ms-ovba``: source only, no compiled cache (``_VBA_PROJECT`` version
  ``0xFFFF``), so the VBA host compiles the modules from source when it opens the file. The
  project references the xlwings add-in (``REFERENCEPROJECT``, MS-OVBA 2.3.4.2.2.6) in the
  shape Excel wrote in xlwings' own ``quickstart.xlsm``, so ``RunPython`` and ``XLPy`` come from
  the installed add-in and xlwings' VBA source is never copied into the workbook.
- :func:`generate_udf_wrappers` writes the VBA module xlwings' *Import Functions* would write
  for a list of Python UDFs (``XLPy.CallUDF`` wrappers), so the template needs no import step.
- :func:`make_macro_workbook` turns an ``.xlsx`` written by openpyxl into ``.xlsm`` bytes: the
  macro-enabled content type, the VBA project part and relationship, the ribbon part
  ``customUI/customUI.xml`` (2006 schema, root relationship ``…/2006/relationships/ui/
  extensibility``), ``codeName``\\ s that match the VBA document modules, and a zip with a fixed
  entry order, timestamp and compression.

What is known and what is unverified about Excel accepting the result: ``xl/README.md``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import posixpath
import random
import re
import struct
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import olefile
from ms_ovba.Models.Entities.doc_module import DocModule
from ms_ovba.Models.Entities.reference import Reference
from ms_ovba.Models.Entities.reference_record import ReferenceRecord
from ms_ovba.Models.Entities.reference_registered import ReferenceRegistered
from ms_ovba.Models.Entities.std_module import StdModule
from ms_ovba.Models.Fields.libid_reference import LibidReference
from ms_ovba.vbaProject import VbaProject
from ms_ovba.Views.project_ole_file import ProjectOleFile
from ms_ovba_compression.ms_ovba import MsOvba as MsOvbaCompression
from ms_ovba_crypto import MsOvbaCrypto
from xlwings.utils import VBAWriter

from ..zip_parts import ZIP_TIMESTAMP, read_parts, write_parts

__all__ = [
    "CORE_TIMESTAMP",
    "CUSTOM_UI_NS",
    "CUSTOM_UI_PART",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_REFERENCES",
    "MACRO_WORKBOOK_CONTENT_TYPE",
    "OFFICE_REFERENCE",
    "STDOLE_REFERENCE",
    "UI_EXTENSIBILITY_REL",
    "VBA_CODEPAGE",
    "VBA_PROJECT_CONTENT_TYPE",
    "VBA_PROJECT_REL",
    "WORKBOOK_CODE_NAME",
    "XLWINGS_REFERENCE",
    "ZIP_TIMESTAMP",
    "UdfSpec",
    "VbaModule",
    "VbaProjectReference",
    "VbaRegisteredReference",
    "build_vba_project",
    "generate_udf_wrappers",
    "make_macro_workbook",
    "ribbon_callbacks",
    "vba_code",
    "vba_project_modules",
    "vba_ribbon_callbacks",
]

# --- Constants -------------------------------------------------------------------------------

#: Code page of the VBA project (PROJECTCODEPAGE): module source is stored in it.
VBA_CODEPAGE = "cp1252"
#: The workbook's document module, and ``workbookPr/@codeName``.
WORKBOOK_CODE_NAME = "ThisWorkbook"
#: ``Attribute VB_Base`` of document modules: the Excel Workbook / Worksheet classes.
_WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
_WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"
#: Fixed project GUID (PROJECT stream ``ID=``), so that the build is reproducible.
DEFAULT_PROJECT_ID = "{A762BF54-6BC9-59B9-8E4B-8A43151AE2D4}"

MACRO_WORKBOOK_CONTENT_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
VBA_PROJECT_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
VBA_PROJECT_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
UI_EXTENSIBILITY_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"
CUSTOM_UI_NS = "http://schemas.microsoft.com/office/2006/01/customui"
CUSTOM_UI_PART = "customUI/customUI.xml"

_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_DOCUMENT_REL = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
    "http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument",
)
_PLAIN_WORKBOOK_CONTENT_TYPES = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
)
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

#: docProps/core.xml's created/modified dates, unless told otherwise (the zip entries':
#: :data:`~sop_workbook.zip_parts.ZIP_TIMESTAMP`).
CORE_TIMESTAMP = "1980-01-01T00:00:00Z"

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_MAX_IDENTIFIER = 31  # VBA identifiers are at most 31 characters in module names


# --- References --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VbaRegisteredReference:
    """A REFERENCEREGISTERED record: an Automation type library known to the registry."""

    name: str
    guid: str
    version: str
    lcid: str
    path: str
    description: str


@dataclass(frozen=True)
class VbaProjectReference:
    """A REFERENCEPROJECT record (MS-OVBA 2.3.4.2.2.6): a reference to another VBA project.

    The libids follow the ``ProjectReference`` grammar (MS-OVBA 2.1.1.12): ``*\\`` then a
    kind letter — ``C`` is "embedded project (a document's VBA project), Windows path" — then
    the path.
    """

    name: str
    libid_absolute: str
    libid_relative: str
    major_version: int
    minor_version: int


#: OLE Automation, as in Excel-made files (xlwings.xlam).
STDOLE_REFERENCE = VbaRegisteredReference(
    "stdole", "00020430-0000-0000-C000-000000000046", "2.0", "0",
    r"C:\Windows\System32\stdole2.tlb", "OLE Automation",
)
#: Microsoft Office Object Library: defines ``IRibbonControl`` for the ribbon callbacks.
OFFICE_REFERENCE = VbaRegisteredReference(
    "Office", "2DF8D04C-5BFA-101B-BDE5-00AA0044DE52", "2.0", "0",
    r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL",
    "Microsoft Office 16.0 Object Library",
)
#: The xlwings add-in's VBA project (project name ``xlwings``). Same record shape and version
#: numbers as the Excel-made ``quickstart.xlsm`` in the xlwings wheel; the paths are only a
#: fallback for when no project of that name is loaded (see xl/README.md).
XLWINGS_REFERENCE = VbaProjectReference(
    name="xlwings",
    libid_absolute=r"*\CC:\xlwings\xlwings.xlam",
    libid_relative=r"*\Cxlwings.xlam",
    major_version=0x68FE4C3D,
    minor_version=0x000C,
)
DEFAULT_REFERENCES: tuple[VbaRegisteredReference | VbaProjectReference, ...] = (
    STDOLE_REFERENCE, OFFICE_REFERENCE, XLWINGS_REFERENCE,
)

_PROJECT_LIBID = re.compile(r"\*\\[A-D][^\x00]+\Z")


class _ProjectReferenceRecord(ReferenceRecord):
    """REFERENCEPROJECT with explicit relative libid and version (ms-ovba 0.0.1's own class
    derives the relative libid from the file name and hard-codes the version)."""

    def __init__(self, ref: VbaProjectReference) -> None:
        for libid in (ref.libid_absolute, ref.libid_relative):
            if not _PROJECT_LIBID.match(libid):
                raise ValueError(f"not a ProjectReference libid (MS-OVBA 2.1.1.12): {libid!r}")
        self._ref = ref

    def pack(self, endien: str, cp_name: str) -> bytes:
        absolute = self._ref.libid_absolute.encode(cp_name)
        relative = self._ref.libid_relative.encode(cp_name)
        size = 4 + len(absolute) + 4 + len(relative) + 4 + 2
        return (
            struct.pack("<HII", 0x000E, size, len(absolute)) + absolute
            + struct.pack("<I", len(relative)) + relative
            + struct.pack("<IH", self._ref.major_version, self._ref.minor_version)
        )


def _reference(ref: VbaRegisteredReference | VbaProjectReference) -> Reference:
    if isinstance(ref, VbaProjectReference):
        return Reference(_ProjectReferenceRecord(ref), ref.name)
    libid = LibidReference(uuid.UUID(ref.guid), ref.version, ref.lcid, ref.path, ref.description)
    return Reference(ReferenceRegistered(libid), ref.name)


# --- Module sources ----------------------------------------------------------------------------

_CLASS_HEADER = re.compile(r"\AVERSION [0-9.]+ CLASS\n(?:BEGIN\n.*?^END\n)?", re.S | re.M)
_MODULE_ATTRIBUTE = re.compile(r"Attribute VB_(\w+)\s*=\s*(.*)\Z")


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def vba_code(source: str) -> str:
    """The code of a module's source text: without the ``VERSION … CLASS``/``BEGIN … END``
    header of an exported ``.cls`` and without the leading module attributes
    (``Attribute VB_Name = …`` and the like, which VBA keeps apart from the code), with LF line
    endings. This is what a reviewer edits and what must survive a build."""
    text = _CLASS_HEADER.sub("", _lf(source).lstrip("\ufeff"), count=1)
    lines = text.split("\n")
    start = 0
    while start < len(lines) and _MODULE_ATTRIBUTE.match(lines[start]):
        start += 1
    return "\n".join(lines[start:])


def _leading_attributes(source: str) -> dict[str, str]:
    text = _CLASS_HEADER.sub("", _lf(source).lstrip("\ufeff"), count=1)
    found = {}
    for line in text.split("\n"):
        m = _MODULE_ATTRIBUTE.match(line)
        if not m:
            break
        found[m.group(1)] = m.group(2).strip()
    return found


@dataclass(frozen=True)
class VbaModule:
    """One module of the project: ``kind`` is ``"document"`` or ``"standard"``; ``base`` the
    ``VB_Base`` class of a document module; ``code`` as :func:`vba_code` returns it."""

    name: str
    kind: str
    code: str
    base: str | None = None

    def stream_text(self) -> bytes:
        """The module's source as stored in its stream: attributes, then code; CRLF; cp1252."""
        if self.kind == "document":
            attributes = [
                f'Attribute VB_Name = "{self.name}"',
                f'Attribute VB_Base = "{self.base}"',
                "Attribute VB_GlobalNameSpace = False",
                "Attribute VB_Creatable = False",
                "Attribute VB_PredeclaredId = True",
                "Attribute VB_Exposed = True",
                "Attribute VB_TemplateDerived = False",
                "Attribute VB_Customizable = True",
            ]
        else:
            attributes = [f'Attribute VB_Name = "{self.name}"']
        code = self.code
        if code and not code.endswith("\n"):
            code += "\n"
        text = "\r\n".join(attributes) + "\r\n" + code.replace("\n", "\r\n")
        try:
            return text.encode(VBA_CODEPAGE)
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            raise ValueError(
                f"VBA module {self.name}: {bad!r} cannot be stored in code page {VBA_CODEPAGE} "
                "(the VBA project's code page); use plain ASCII in VBA sources"
            ) from None


def _check_module_name(name: str, origin: str) -> None:
    if not _IDENTIFIER.match(name) or len(name) > _MAX_IDENTIFIER:
        raise ValueError(
            f"{origin}: {name!r} is not a valid VBA module name "
            f"(a letter, then letters, digits or _, at most {_MAX_IDENTIFIER} characters)"
        )


def _module_from_file(path: Path, kind: str, base: str | None) -> VbaModule:
    source = path.read_text(encoding="utf-8")
    name = path.stem
    _check_module_name(name, str(path))
    declared = _leading_attributes(source).get("Name")
    if declared is not None and declared.strip('"') != name:
        raise ValueError(f"{path}: declares Attribute VB_Name = {declared} but the file is {name}")
    return VbaModule(name, kind, vba_code(source), base)


def _collect_modules(
    bas_dir: Path,
    sheet_code_names: Sequence[str],
    extra_modules: Mapping[str, str] | None,
) -> list[VbaModule]:
    bas_dir = Path(bas_dir)
    if not bas_dir.is_dir():
        raise FileNotFoundError(f"no VBA source folder {bas_dir}")
    for name in sheet_code_names:
        _check_module_name(name, "sheet code name")
    classes = {p.stem: p for p in sorted(bas_dir.glob("*.cls"))}
    workbook = (
        _module_from_file(classes.pop(WORKBOOK_CODE_NAME), "document", _WORKBOOK_BASE)
        if WORKBOOK_CODE_NAME in classes
        else VbaModule(WORKBOOK_CODE_NAME, "document", "", _WORKBOOK_BASE)
    )
    if sheet_code_names:
        stray = sorted(set(classes) - set(sheet_code_names))
        if stray:
            raise ValueError(
                f"{bas_dir}: {', '.join(s + '.cls' for s in stray)} match no sheet code name "
                f"({', '.join(sheet_code_names)}); document modules must belong to a sheet"
            )
    sheet_names = list(sheet_code_names) + [n for n in classes if n not in sheet_code_names]
    sheets = [
        _module_from_file(classes[n], "document", _WORKSHEET_BASE)
        if n in classes
        else VbaModule(n, "document", "", _WORKSHEET_BASE)
        for n in sheet_names
    ]
    standard = [_module_from_file(p, "standard", None) for p in sorted(bas_dir.glob("*.bas"))]
    for name, source in sorted((extra_modules or {}).items()):
        _check_module_name(name, "extra module")
        declared = _leading_attributes(source).get("Name")
        if declared is not None and declared.strip('"') != name:
            raise ValueError(f"extra module {name}: declares Attribute VB_Name = {declared}")
        standard.append(VbaModule(name, "standard", vba_code(source)))
    standard.sort(key=lambda m: m.name.lower())
    modules = [workbook, *sheets, *standard]
    seen: dict[str, str] = {}
    for m in modules:  # VBA names are case-insensitive
        if m.name.lower() in seen:
            raise ValueError(f"two VBA modules named {seen[m.name.lower()]} and {m.name}")
        seen[m.name.lower()] = m.name
    return modules


# --- The VBA project ---------------------------------------------------------------------------

# ms-ovba writes its intermediate files into the current directory: one build at a time.
_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def _seeded_crypto(seed: int):
    """ms-ovba-crypto draws the MS-OVBA 2.4.3 encryption seed (PROJECT stream CMG/DPB/GC) from
    the global ``random``; a fixed generator makes the bytes reproducible. The obfuscation has
    no secret in it (it protects nothing: no password is set)."""
    module = inspect.getmodule(MsOvbaCrypto)
    saved = module.random
    module.random = random.Random(seed)
    try:
        yield
    finally:
        module.random = saved


def _copytoken_help(difference: int) -> dict:
    """CopyToken Help, MS-OVBA 2.4.1.3.19.1: ``MaximumLength = (0xFFFF >> BitCount) + 3``.

    ms-ovba-compression 1.0.1 computes ``0xFFFF << BitCount + 3`` instead, so any match longer
    than a copy token can hold overflows into the offset bits and the compressed module source
    decompresses to garbage (seen on a 2.7 kB module). This is the corrected function."""
    bit_count = max((difference - 1).bit_length(), 4)
    length_mask = 0xFFFF >> bit_count
    return {
        "lengthMask": length_mask,
        "offsetMask": ~length_mask & 0xFFFF,
        "bitCount": bit_count,
        "maxLength": length_mask + 3,
    }


@contextlib.contextmanager
def _fixed_compression():
    saved = MsOvbaCompression.__dict__["copytoken_help"]
    MsOvbaCompression.copytoken_help = staticmethod(_copytoken_help)
    try:
        yield
    finally:
        MsOvbaCompression.copytoken_help = saved


def build_vba_project(
    bas_dir: Path,
    *,
    sheet_code_names: Sequence[str] = (),
    extra_modules: Mapping[str, str] | None = None,
    references: Sequence[VbaRegisteredReference | VbaProjectReference] = DEFAULT_REFERENCES,
    project_id: str = DEFAULT_PROJECT_ID,
) -> bytes:
    """Compile ``bas_dir/*.bas`` (standard modules) and ``bas_dir/*.cls`` (document modules:
    ``ThisWorkbook.cls`` and one per sheet code name) into ``vbaProject.bin`` bytes.

    - Standard modules are named after their file; an ``Attribute VB_Name`` line in the file is
      optional and must agree. ``extra_modules`` adds generated standard modules (name →
      source), e.g. the UDF wrappers of :func:`generate_udf_wrappers`.
    - Document modules: ``ThisWorkbook`` always (empty unless ``ThisWorkbook.cls`` exists) and
      one per ``sheet_code_names`` entry (empty unless ``<code name>.cls`` exists), in that
      order — Excel's layout: the workbook, the sheets, then the standard modules (by name).
      The VBE export header and attributes of a ``.cls`` are replaced by the standard ones.
    - References: stdole, Office (``IRibbonControl``) and the xlwings add-in project.
    - No compiled cache: the host compiles from source. Deterministic: same sources, same bytes.
    """
    modules = _collect_modules(Path(bas_dir), sheet_code_names, extra_modules)
    project = VbaProject()
    project.project_id = project_id
    project.include_projectwm()  # Excel writes PROJECTwm (module name map) too
    project.add_attribute("VersionCompatible32", "393222000")
    for ref in references:
        project.add_reference(_reference(ref))
    with (
        _BUILD_LOCK,
        tempfile.TemporaryDirectory(prefix="sop-vba-") as tmp,
        contextlib.chdir(tmp),
        _seeded_crypto(0),
        _fixed_compression(),
    ):
        module_dir = Path(tmp, "modules")
        module_dir.mkdir()
        for m in modules:
            entity = DocModule(m.name) if m.kind == "document" else StdModule(m.name)
            stem = module_dir / m.name
            entity.add_file(str(stem))  # ms-ovba compresses <stem>.new into <stem>.bin
            Path(f"{stem}.new").write_bytes(m.stream_text())
            project.add_module(entity)
        ProjectOleFile.write_file(project)
        data = Path(tmp, "vbaProject.bin").read_bytes()
        expected = {
            "PROJECT": Path(tmp, "project.bin").read_bytes(),
            "PROJECTwm": Path(tmp, "projectwm.bin").read_bytes(),
            "VBA/_VBA_PROJECT": Path(tmp, "vba_project.bin").read_bytes(),
            "VBA/dir": Path(tmp, "dir.bin").read_bytes(),
            **{f"VBA/{m.name}": Path(module_dir, f"{m.name}.bin").read_bytes() for m in modules},
        }
    _check_container(data, expected)
    for m in modules:  # the compressor is patched: check that every module decompresses back
        if _decompress(expected[f"VBA/{m.name}"]).rstrip(b"\0") != m.stream_text():
            raise RuntimeError(f"VBA module {m.name} does not decompress to its source")
    return data


def _decompress(container: bytes) -> bytes:
    """MS-OVBA 2.4.1.3.1 decompression (ms-ovba-compression 1.0.1's own mis-reads containers
    of more than one chunk)."""
    if not container or container[0] != 0x01:
        raise ValueError("not an MS-OVBA compressed container")
    out = bytearray()
    pos = 1
    while pos < len(container):
        header = int.from_bytes(container[pos:pos + 2], "little")
        end = min(pos + (header & 0x0FFF) + 3, len(container))
        pos += 2
        chunk_start = len(out)
        if not header & 0x8000:  # raw chunk
            out += container[pos:pos + 4096]
            pos += 4096
            continue
        while pos < end:
            flags = container[pos]
            pos += 1
            for bit in range(8):
                if pos >= end:
                    break
                if not flags >> bit & 1:
                    out.append(container[pos])
                    pos += 1
                    continue
                token = int.from_bytes(container[pos:pos + 2], "little")
                pos += 2
                bit_count = max((len(out) - chunk_start - 1).bit_length(), 4)
                length = (token & (0xFFFF >> bit_count)) + 3
                offset = (token >> (16 - bit_count)) + 1
                for _ in range(length):
                    out.append(out[-offset])
    return bytes(out)


def _check_container(data: bytes, expected: Mapping[str, bytes]) -> None:
    """Read the container back with olefile and compare every stream with what was put in.

    ms-cfb 0.0.6 writes a single FAT sector, so a container over 128 sectors (~64 KiB; some
    hundreds of UDF wrappers) comes out corrupt; this turns that into a clear error."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            found = {"/".join(e): ole.openstream(e).read() for e in ole.listdir()}
    except Exception as exc:
        found = {"<unreadable>": str(exc).encode()}
    if found != dict(expected):
        bad = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
        raise RuntimeError(
            f"ms-cfb wrote a vbaProject.bin ({len(data)} bytes) whose streams do not read back "
            f"({', '.join(bad)}); ms-cfb 0.0.6 handles at most 128 sectors (~64 KiB): split "
            "or shrink the VBA modules"
        )


def vba_project_modules(vba_bin: bytes) -> dict[str, str]:
    """Module name → kind (``Document``, ``Module``, ``Class``, ``BaseClass``) as listed in the
    PROJECT stream of a ``vbaProject.bin`` (any producer, Excel included)."""
    with olefile.OleFileIO(io.BytesIO(vba_bin)) as ole:
        text = ole.openstream("PROJECT").read().decode(VBA_CODEPAGE)
    modules = {}
    for line in text.splitlines():
        if line.startswith("["):
            break
        key, _, value = line.partition("=")
        if key in ("Document", "Module", "Class", "BaseClass"):
            modules[value.split("/")[0]] = key
    return modules


# --- UDF wrappers ------------------------------------------------------------------------------

#: (Python module, function name, argument names). An argument written ``*name`` is a vararg
#: (VBA ``ParamArray``); ``name=`` or ``name=default`` is optional; ``caller`` is not a VBA
#: argument (xlwings passes the calling range) — the conventions of ``xlwings.udfs``.
UdfSpec = tuple[str, str, list[str]]

#: VBA's reserved identifiers (MS-VBAL 3.3.5.2): not usable as a function or argument name.
_VBA_KEYWORDS = frozenset(w.lower() for w in (
    "Call", "Case", "Close", "Const", "Declare", "DefBool", "DefByte", "DefCur", "DefDate",
    "DefDbl", "DefInt", "DefLng", "DefLngLng", "DefLngPtr", "DefObj", "DefSng", "DefStr",
    "DefVar", "Dim", "Do", "Else", "ElseIf", "End", "EndIf", "Enum", "Erase", "Event", "Exit",
    "For", "Friend", "Function", "Get", "Global", "GoSub", "GoTo", "If", "Implements", "Input",
    "Let", "Lock", "Loop", "LSet", "Next", "On", "Open", "Option", "Print", "Private", "Public",
    "Put", "RaiseEvent", "ReDim", "Resume", "Return", "RSet", "Seek", "Select", "Set", "Static",
    "Stop", "Sub", "Type", "Unlock", "Wend", "While", "With", "Write", "Any", "As", "ByRef",
    "ByVal", "Each", "In", "New", "Shared", "Until", "WithEvents", "Optional", "ParamArray",
    "Preserve", "Spc", "Tab", "Then", "To", "AddressOf", "And", "Eqv", "Imp", "Is", "Like", "Mod",
    "Not", "Or", "TypeOf", "Xor", "Abs", "CBool", "CByte", "CCur", "CDate", "CDbl", "CDec",
    "CInt", "CLng", "CLngLng", "CLngPtr", "CSng", "CStr", "CVar", "CVErr", "Date", "Debug",
    "DoEvents", "Fix", "Int", "Len", "LenB", "Me", "PSet", "Scale", "Sgn", "String", "Array",
    "Circle", "InputB", "LBound", "UBound", "Boolean", "Byte", "Currency", "Double", "Integer",
    "Long", "LongLong", "LongPtr", "Single", "Variant", "True", "False", "Nothing", "Empty",
    "Null", "Rem", "Attribute", "LINEINPUT", "CDecl", "Decimal", "DefDec",
))


def _check_vba_identifier(name: str, what: str) -> None:
    if not _IDENTIFIER.match(name) or len(name) > 255:
        raise ValueError(f"{what} {name!r} is not a valid VBA identifier")
    if name.lower() in _VBA_KEYWORDS:
        raise ValueError(f"{what} {name!r} is a VBA keyword; rename it in Python")


def _parse_udf_args(fname: str, argnames: Iterable[str]) -> list[dict]:
    args = []
    for raw in argnames:
        arg = {"vararg": raw.startswith("*"), "vba": None}
        name = raw.lstrip("*")
        if "=" in name:
            name, _, default = name.partition("=")
            arg["optional"] = default
        arg["name"] = name.strip()
        _check_vba_identifier(arg["name"], f"argument of {fname}:")
        if arg["name"].lower() == fname.lower():
            raise ValueError(f"{fname}: an argument may not have the function's name")
        if arg["name"] == "caller":
            arg["vba"] = "Nothing"  # xlwings replaces it with the caller
        args.append(arg)
    names = [a["name"].lower() for a in args]
    if len(set(names)) != len(names):
        raise ValueError(f"{fname}: duplicate argument names {argnames!r}")
    return args


def _write_udf_wrapper(vba: VBAWriter, module_name: str, fname: str, args: list[dict]) -> None:
    """One ``Function`` exactly as ``xlwings.udfs.generate_vba_wrapper`` (xlwings 0.33–0.37)
    writes it for a UDF with ``call_in_wizard=True``, ``volatile=False``, in a workbook
    (``ThisWorkbook``, not an add-in)."""
    func_sig = "Function " + fname + "("
    first = True
    vararg = ""
    for arg in args:
        if not arg["vba"]:
            if not first:
                func_sig += ", "
            if "optional" in arg:
                func_sig += "Optional "
            elif arg["vararg"]:
                func_sig += "ParamArray "
                vararg = arg["name"]
            func_sig += arg["name"]
            if arg["vararg"]:
                func_sig += "()"
            first = False
    func_sig += ")"

    with vba.block(func_sig):
        if vararg != "":
            non_varargs = [a["vba"] or a["name"] for a in args if not a["vararg"]]
            vba.writeln("Dim argsArray() As Variant")
            vba.writeln("argsArray = Array(" + ", ".join(non_varargs) + ")")
            vba.writeln(
                "ReDim Preserve argsArray(0 to UBound(" + vararg + ") - LBound(" + vararg
                + ") + " + str(len(non_varargs)) + ")"
            )
            vba.writeln("For k = LBound(" + vararg + ") To UBound(" + vararg + ")")
            vba.writeln(
                "argsArray(" + str(len(non_varargs)) + " + k - LBound(" + vararg + ")) = "
                + vararg + "(k)"
            )
            vba.writeln("Next k")
            args_vba = "argsArray"
        else:
            args_vba = "Array(" + ", ".join(a["vba"] or a["name"] for a in args) + ")"

        with vba.block('#If App = "Microsoft Excel" Then'):
            vba.writeln("If TypeOf Application.Caller Is Range Then On Error GoTo failed")
            vba.writeln(
                '{fname} = XLPy.CallUDF("{module_name}", "{fname}", '
                "{args_vba}, ThisWorkbook, Application.Caller)",
                module_name=module_name, fname=fname, args_vba=args_vba,
            )
            vba.writeln("Exit Function")
        with vba.block("#Else"):
            vba.writeln(
                '{fname} = XLPy.CallUDF("{module_name}", "{fname}", {args_vba})',
                module_name=module_name, fname=fname, args_vba=args_vba,
            )
            vba.writeln("Exit Function")
        vba.writeln("#End If")

        vba.write_label("failed")
        vba.writeln(fname + " = Err.Description")

    vba.writeln("End Function")
    vba.writeln("")


def generate_udf_wrappers(functions: list[tuple[str, str, list[str]]]) -> str:
    """The VBA module ``xlwings_udfs`` that xlwings' *Import Functions* writes for these UDFs:
    per function a VBA ``Function NAME(args)`` returning
    ``XLPy.CallUDF("module", "NAME", Array(args), ThisWorkbook, Application.Caller)`` and
    ``Err.Description`` on error (``XLPy`` comes from the referenced xlwings add-in).

    ``functions``: ``(python module, function name, argument names)`` in the order wanted; see
    :data:`UdfSpec` for optional/vararg/caller arguments. Returns the module source (LF line
    endings, starting with its ``Attribute VB_Name`` line) for ``build_vba_project``'s
    ``extra_modules={"xlwings_udfs": ...}``."""
    seen: dict[str, str] = {}
    buf = io.StringIO()
    vba = VBAWriter(buf)
    vba.writeln('Attribute VB_Name = "xlwings_udfs"')
    vba.writeln("'Autogenerated code by xlwings - changes will be lost with next import!")
    vba.writeln("""#Const App = "Microsoft Excel" 'Adjust when using outside of Excel""")
    for module_name, fname, argnames in functions:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", module_name):
            raise ValueError(f"{module_name!r} is not a Python module name")
        _check_vba_identifier(fname, "UDF name")
        if fname.lower() in seen:
            raise ValueError(f"UDF {fname} defined twice ({seen[fname.lower()]}, {module_name})")
        seen[fname.lower()] = module_name
        _write_udf_wrapper(vba, module_name, fname, _parse_udf_args(fname, argnames))
    return buf.getvalue()


# --- Ribbon ------------------------------------------------------------------------------------

_CALLBACK_ATTRIBUTE = re.compile(r"(on[A-Z]\w*|get[A-Z]\w*|loadImage)\Z")


def ribbon_callbacks(custom_ui_xml: bytes) -> list[tuple[str, str, str]]:
    """``(control id, attribute, callback)`` for every callback attribute (``onAction``,
    ``getLabel``, …) in a customUI part, in document order. Raises ``ValueError`` unless the
    part is well-formed customUI of the 2006 schema."""
    try:
        root = ET.fromstring(custom_ui_xml)
    except ET.ParseError as exc:
        raise ValueError(f"customUI.xml is not well-formed XML: {exc}") from None
    if root.tag != f"{{{CUSTOM_UI_NS}}}customUI":
        raise ValueError(
            f"customUI root must be <customUI xmlns=\"{CUSTOM_UI_NS}\"> (the 2006 schema), got "
            f"{root.tag}: a 2009 customUI14 part needs a relationship that openpyxl drops on save"
        )
    found = []
    for el in root.iter():
        for attr, value in el.attrib.items():
            if _CALLBACK_ATTRIBUTE.match(attr):
                found.append((el.get("id") or el.get("idMso") or el.tag, attr, value))
    return found


_RIBBON_SUB = re.compile(
    r"^[ \t]*(?:Public[ \t]+)?Sub[ \t]+(\w+)[ \t]*\([ \t]*(?:ByVal[ \t]+|ByRef[ \t]+)?\w+[ \t]+As"
    r"[ \t]+(?:Office\.)?IRibbonControl[ \t]*\)",
    re.I | re.M,
)


def vba_ribbon_callbacks(source: str) -> set[str]:
    """Names of the public ``Sub Name(control As IRibbonControl)`` procedures in VBA source."""
    return set(_RIBBON_SUB.findall(_lf(source)))


# --- The .xlsm package -------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})


def _parse_rels(data: bytes) -> list[dict[str, str]]:
    root = ET.fromstring(data)
    return [dict(el.attrib) for el in root if _local(el.tag) == "Relationship"]


def _write_rels(rels: list[dict[str, str]]) -> bytes:
    out = [_XML_DECLARATION, f'<Relationships xmlns="{_RELS_NS}">']
    for rel in rels:
        attrs = "".join(
            f' {k}="{_attr(rel[k])}"' for k in ("Id", "Type", "Target", "TargetMode") if k in rel
        )
        out.append(f"<Relationship{attrs}/>")
    out.append("</Relationships>")
    return "".join(out).encode("utf-8")


def _next_rel_id(rels: list[dict[str, str]]) -> str:
    ids = {r["Id"] for r in rels}
    n = max([int(m.group(1)) for i in ids if (m := re.fullmatch(r"rId(\d+)", i))] + [0]) + 1
    while f"rId{n}" in ids:
        n += 1
    return f"rId{n}"


def _rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def _content_types(data: bytes) -> list[tuple[str, str, str]]:
    root = ET.fromstring(data)
    entries = []
    for el in root:
        kind = _local(el.tag)
        if kind == "Default":
            entries.append(("Default", el.get("Extension", ""), el.get("ContentType", "")))
        elif kind == "Override":
            entries.append(("Override", el.get("PartName", ""), el.get("ContentType", "")))
    return entries


def _write_content_types(entries: list[tuple[str, str, str]]) -> bytes:
    out = [_XML_DECLARATION, f'<Types xmlns="{_CT_NS}">']
    for kind in ("Default", "Override"):  # the schema wants the Defaults first
        key = "Extension" if kind == "Default" else "PartName"
        out += [
            f'<{kind} {key}="{_attr(name)}" ContentType="{_attr(ct)}"/>'
            for k, name, ct in entries if k == kind
        ]
    out.append("</Types>")
    return "".join(out).encode("utf-8")


def _element_end(text: str, prefix: str, local: str, start: int) -> int | None:
    """End offset of the first ``<prefix:local …/>`` or ``<prefix:local …>…</prefix:local>``
    at or after ``start``, or None."""
    m = re.compile(rf"<{re.escape(prefix)}{local}(?=[\s/>])[^>]*?(/?)>").search(text, start)
    if not m:
        return None
    if m.group(1):
        return m.end()
    close = text.find(f"</{prefix}{local}>", m.end())
    return None if close < 0 else close + len(f"</{prefix}{local}>")


def _set_code_name(xml: bytes, root: str, element: str, code_name: str,
                   preceding: Sequence[str] = ()) -> bytes:
    """Set ``codeName`` on the first ``element`` (``workbookPr`` / ``sheetPr``) of a part, adding
    the element at its schema position if it is missing. A textual edit of one start tag: the
    rest of the part (which can be large) is kept byte for byte."""
    text = xml.decode("utf-8")
    root_m = re.search(rf"<((?:[\w.-]+:)?){root}(?=[\s/>])[^>]*>", text)
    if not root_m:
        raise ValueError(f"no <{root}> root element")
    prefix = root_m.group(1)
    m = re.compile(rf"<{re.escape(prefix)}{element}(?=[\s/>])([^>]*?)(/?)>").search(
        text, root_m.end())
    if m:
        attrs = re.sub(r"""\s+codeName\s*=\s*(?:"[^"]*"|'[^']*')""", "", m.group(1))
        new = f'<{prefix}{element} codeName="{code_name}"{attrs}{m.group(2)}>'
        text = text[:m.start()] + new + text[m.end():]
    else:
        pos = root_m.end()
        for before in preceding:
            end = _element_end(text, prefix, before, pos)
            if end is not None:
                pos = end
        text = text[:pos] + f'<{prefix}{element} codeName="{code_name}"/>' + text[pos:]
    return text.encode("utf-8")


def _set_core_timestamp(xml: bytes, timestamp: str) -> bytes:
    text = xml.decode("utf-8")
    text = re.sub(
        r"(<(?:[\w.-]+:)?(?:created|modified)(?=[\s>])[^>]*>)[^<]*(</)",
        lambda m: m.group(1) + timestamp + m.group(2),
        text,
    )
    return text.encode("utf-8")


def make_macro_workbook(
    xlsx_bytes: bytes,
    vba_bin: bytes,
    custom_ui_xml: bytes,
    *,
    code_names: dict[str, str] | None = None,
    core_timestamp: str | None = CORE_TIMESTAMP,
) -> bytes:
    """Turn an ``.xlsx`` written by openpyxl into ``.xlsm`` bytes with a VBA project and a
    ribbon: :func:`macro_workbook_parts` on its parts, zipped (:func:`write_parts`)."""
    return write_parts(macro_workbook_parts(read_parts(xlsx_bytes), vba_bin, custom_ui_xml,
                                            code_names=code_names,
                                            core_timestamp=core_timestamp))


def macro_workbook_parts(
    parts: dict[str, bytes],
    vba_bin: bytes,
    custom_ui_xml: bytes,
    *,
    code_names: dict[str, str] | None = None,
    core_timestamp: str | None = CORE_TIMESTAMP,
) -> dict[str, bytes]:
    """Turn the parts of an ``.xlsx`` written by openpyxl (name → bytes, changed in place
    and returned) into those of an ``.xlsm`` with a VBA project and a ribbon.

    - ``[Content_Types].xml``: the workbook becomes
      ``application/vnd.ms-excel.sheet.macroEnabled.main+xml``; ``Default Extension="bin"`` →
      ``application/vnd.ms-office.vbaProject``.
    - ``xl/vbaProject.bin`` = ``vba_bin``, related from the workbook (``…/vbaProject``).
    - ``customUI/customUI.xml`` = ``custom_ui_xml`` (2006 schema, checked), related from the
      package root (``…/2006/relationships/ui/extensibility``) — the form openpyxl keeps when
      it re-saves the file with ``keep_vba=True``.
    - ``codeName``: ``workbookPr`` gets ``ThisWorkbook``; each sheet the code name
      ``code_names[sheet title]`` (default: ``Sheet1``, ``Sheet2``, … for the worksheets in
      order, as Excel names them). Every code name must be a document module of ``vba_bin``
      and every document module a sheet's (or the workbook's): ``ValueError`` otherwise.
    - ``docProps/core.xml`` created/modified := ``core_timestamp`` (``None``: keep openpyxl's,
      which is the time of the save — not reproducible).
    Zipped by :func:`write_parts`: ``[Content_Types].xml``, ``_rels/.rels``, then the
    parts by name; every entry deflated at level 6 and dated 1980-01-01 00:00. Same inputs
    → same bytes (with the same zlib).
    """
    for name in parts:
        if name.lower() == "xl/vbaproject.bin" or name.lower().startswith("customui/"):
            raise ValueError(f"expected a plain .xlsx, but it already has {name}")
    if not vba_bin.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ValueError("vba_bin is not an OLE compound file (vbaProject.bin)")
    ribbon_callbacks(custom_ui_xml)  # validates the schema

    # The workbook part and its sheets.
    root_rels = _parse_rels(parts["_rels/.rels"])
    office = [r for r in root_rels if r.get("Type") in _OFFICE_DOCUMENT_REL]
    if len(office) != 1:
        raise ValueError("the package has no (single) officeDocument relationship")
    wb_part = _resolve("", office[0]["Target"])
    wb_rels_part = _rels_name(wb_part)
    wb_rels = _parse_rels(parts[wb_rels_part])
    by_id = {r["Id"]: r for r in wb_rels}
    sheets: list[tuple[str, str, str]] = []  # (title, part, kind)
    sheet_elements = [
        el for sheets_el in ET.fromstring(parts[wb_part]) if _local(sheets_el.tag) == "sheets"
        for el in sheets_el if _local(el.tag) == "sheet"
    ]
    for el in sheet_elements:
        rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        rel = by_id.get(rid or "")
        if rel is None:
            raise ValueError(f"sheet {el.get('name')!r} has no relationship in {wb_rels_part}")
        kind = rel["Type"].rsplit("/", 1)[-1]
        sheets.append((el.get("name", ""), _resolve(wb_part, rel["Target"]), kind))

    # Code names, checked against the VBA project's document modules.
    if code_names is None:
        worksheets = [s for s in sheets if s[2] == "worksheet"]
        code_names = {title: f"Sheet{i}" for i, (title, _, _) in enumerate(worksheets, 1)}
    titles = {title for title, _, _ in sheets}
    unknown = sorted(set(code_names) - titles)
    if unknown:
        raise ValueError(f"code_names names sheets the workbook lacks: {', '.join(unknown)}")
    uncovered = [t for t, _, kind in sheets if kind == "worksheet" and t not in code_names]
    if uncovered:
        raise ValueError(f"worksheets without a code name: {', '.join(uncovered)}")
    lowered = [c.lower() for c in code_names.values()]
    if len(set(lowered)) != len(lowered) or WORKBOOK_CODE_NAME.lower() in lowered:
        raise ValueError(f"code names must be unique and not {WORKBOOK_CODE_NAME}: {code_names}")
    documents = {n for n, kind in vba_project_modules(vba_bin).items() if kind == "Document"}
    wanted = {WORKBOOK_CODE_NAME, *code_names.values()}
    if documents != wanted:
        missing, extra = sorted(wanted - documents), sorted(documents - wanted)
        raise ValueError(
            "the VBA project's document modules do not match the workbook: "
            + "; ".join(filter(None, [
                missing and f"no document module for {', '.join(missing)}",
                extra and f"document modules without a sheet: {', '.join(extra)}",
            ]))
            + " (build_vba_project(sheet_code_names=...) makes one per sheet)"
        )
    parts[wb_part] = _set_code_name(parts[wb_part], "workbook", "workbookPr",
                                    WORKBOOK_CODE_NAME, preceding=("fileVersion", "fileSharing"))
    for title, part, kind in sheets:
        if title in code_names:
            parts[part] = _set_code_name(parts[part], kind, "sheetPr", code_names[title])

    # VBA project part and relationship.
    vba_part = posixpath.join(posixpath.dirname(wb_part), "vbaProject.bin")
    parts[vba_part] = vba_bin
    wb_rels.append({"Id": _next_rel_id(wb_rels), "Type": VBA_PROJECT_REL,
                    "Target": "vbaProject.bin"})
    parts[wb_rels_part] = _write_rels(wb_rels)

    # Ribbon part and its root relationship.
    parts[CUSTOM_UI_PART] = custom_ui_xml
    root_rels.append({"Id": _next_rel_id(root_rels), "Type": UI_EXTENSIBILITY_REL,
                      "Target": CUSTOM_UI_PART})
    parts["_rels/.rels"] = _write_rels(root_rels)

    # Content types.
    entries = _content_types(parts["[Content_Types].xml"])
    wb_name = "/" + wb_part
    found = False
    for i, (kind, name, ct) in enumerate(entries):
        if kind == "Override" and name == wb_name:
            if ct not in (*_PLAIN_WORKBOOK_CONTENT_TYPES, MACRO_WORKBOOK_CONTENT_TYPE):
                raise ValueError(f"unexpected workbook content type {ct}")
            entries[i] = (kind, name, MACRO_WORKBOOK_CONTENT_TYPE)
            found = True
    if not found:
        entries.append(("Override", wb_name, MACRO_WORKBOOK_CONTENT_TYPE))
    bin_default = [e for e in entries if e[0] == "Default" and e[1].lower() == "bin"]
    if not bin_default:
        entries.insert(0, ("Default", "bin", VBA_PROJECT_CONTENT_TYPE))
    elif bin_default[0][2] != VBA_PROJECT_CONTENT_TYPE:
        entries.append(("Override", "/" + vba_part, VBA_PROJECT_CONTENT_TYPE))
    parts["[Content_Types].xml"] = _write_content_types(entries)

    if core_timestamp is not None and "docProps/core.xml" in parts:
        parts["docProps/core.xml"] = _set_core_timestamp(parts["docProps/core.xml"],
                                                         core_timestamp)
    return parts
