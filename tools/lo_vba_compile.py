"""Compile a workbook's VBA modules in LibreOffice's VBA interpreter (the nearest thing to
Excel's Debug > Compile on Linux) and print one JSON line per module.

Run with the system Python that has LibreOffice's ``uno`` module (Debian: python3-uno):

    /usr/bin/python3 tools/lo_vba_compile.py WORKBOOK.xlsm

It starts its own headless LibreOffice (own profile, own pipe name), opens the workbook with
macro execution allowed (MacroExecutionMode 4), and for every module of the ``VBAProject``
library makes LibreOffice compile it: it calls a probe function added for the run to an
in-memory copy of the module (the file is never saved). A module that does not compile
reports LibreOffice's message; one that compiles reports ``ok``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import uno
from com.sun.star.beans import PropertyValue

PROBE = "SopCompileProbe__"


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main(path: str) -> int:
    workbook = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="lo-vba-") as tmp:
        pipe = f"sopvba{uuid.uuid4().hex[:12]}"
        office = subprocess.Popen(
            ["soffice", f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}",
             "--headless", "--norestore", "--nologo", "--nodefault",
             f"--accept=pipe,name={pipe};urp;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        desktop = None
        try:
            local = uno.getComponentContext()
            resolver = local.ServiceManager.createInstanceWithContext(
                "com.sun.star.bridge.UnoUrlResolver", local)
            ctx = None
            for _ in range(240):
                try:
                    ctx = resolver.resolve(
                        f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                    break
                except Exception:
                    time.sleep(0.25)
            if ctx is None:
                print(json.dumps({"error": "LibreOffice did not start"}))
                return 2
            desktop = ctx.ServiceManager.createInstanceWithContext(
                "com.sun.star.frame.Desktop", ctx)
            doc = desktop.loadComponentFromURL(
                workbook.as_uri(), "_blank", 0,
                (prop("Hidden", True), prop("MacroExecutionMode", 4),
                 prop("ReadOnly", True)))
            libraries = doc.BasicLibraries
            libraries.loadLibrary("VBAProject")
            library = libraries.getByName("VBAProject")
            provider = doc.getScriptProvider()
            failed = 0
            for name in library.getElementNames():
                source = library.getByName(name)
                probe = (f"\nPublic Function {PROBE}()\n    {PROBE} = 1\nEnd Function\n")
                library.replaceByName(name, source + probe)
                try:
                    script = provider.getScript(
                        f"vnd.sun.star.script:VBAProject.{name}.{PROBE}"
                        "?language=Basic&location=document")
                    result = script.invoke((), (), ())[0]
                    status = "ok" if result == 1 else f"probe returned {result!r}"
                except Exception as exc:  # a compile error surfaces here
                    status = getattr(exc, "Message", str(exc)) or type(exc).__name__
                finally:
                    library.replaceByName(name, source)
                failed += status != "ok"
                print(json.dumps({"module": name, "status": status}), flush=True)
            doc.close(True)
            return 1 if failed else 0
        finally:
            with contextlib.suppress(Exception):  # LibreOffice may be gone already
                desktop.terminate()
            try:
                office.wait(timeout=20)
            except subprocess.TimeoutExpired:
                office.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
