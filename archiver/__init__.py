"""archiver: preserve the images, media, sources and related articles that documents cite.

The library works without the command line; every command is one call here:

    import archiver
    settings = archiver.Settings(out=Path("archive"), collection="news")
    summary = archiver.archive(["docs/"], settings)             # -> RunSummary
    report = archiver.verify_collection(settings)              # -> VerifyReport
    checked = archiver.recheck_collection(settings)            # -> RecheckSummary
    text = archiver.render_report(archiver.load_report(settings), "md")
    archiver.export_wacz(settings, Path("news.wacz"))

The entry points are imported on first use (PEP 562 `__getattr__`), as the command line
imports each command's modules only when it runs: `import archiver` does not pay for httpx,
lxml, pywb or wacz. `verify` and `recheck` are subpackages, so their entry points are named
`verify_collection` and `recheck_collection`. Settings, the types between stages and the
exception tree (archiver.errors) are imported at once: they are small.
"""

import sys

__version__ = "0.1.0"

# httpx imports its own command-line client on import (and with it rich's console, pygments
# and click's machinery), a sixth of archiver's start-up; archiver never runs it. A None entry
# makes that import fail, which httpx expects and answers with a stub `httpx.main`.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from importlib import import_module
from typing import TYPE_CHECKING

from archiver.config import Settings
from archiver.errors import (
    ArchiverError,
    CollectionLocked,
    InputError,
    StorageError,
    UnfetchableURL,
)
from archiver.models import (
    Document,
    FetchResult,
    Link,
    ManifestEntry,
    Role,
    RunSummary,
    Status,
    WarcRecordRef,
)

if TYPE_CHECKING:
    from archiver.export import export_wacz
    from archiver.extract.links import extract_links
    from archiver.recheck.check import RecheckSummary
    from archiver.recheck.check import recheck as recheck_collection
    from archiver.replay import ReplayLink, replay_links
    from archiver.report.build import load_report
    from archiver.report.formats import FORMATS, ReportFormat
    from archiver.report.formats import render as render_report
    from archiver.report.model import ReportData
    from archiver.run.archive import archive
    from archiver.run.plan import load_documents
    from archiver.verify.fast import verify_fast, verify_files
    from archiver.verify.fixity import Problem, VerifyReport
    from archiver.verify.fixity import verify as verify_collection

_LAZY = {
    "archive": ("archiver.run.archive", "archive"),
    "load_documents": ("archiver.run.plan", "load_documents"),
    "extract_links": ("archiver.extract.links", "extract_links"),
    "verify_collection": ("archiver.verify.fixity", "verify"),
    "verify_fast": ("archiver.verify.fast", "verify_fast"),
    "verify_files": ("archiver.verify.fast", "verify_files"),
    "VerifyReport": ("archiver.verify.fixity", "VerifyReport"),
    "Problem": ("archiver.verify.fixity", "Problem"),
    "recheck_collection": ("archiver.recheck.check", "recheck"),
    "RecheckSummary": ("archiver.recheck.check", "RecheckSummary"),
    "load_report": ("archiver.report.build", "load_report"),
    "render_report": ("archiver.report.formats", "render"),
    "FORMATS": ("archiver.report.formats", "FORMATS"),
    "ReportFormat": ("archiver.report.formats", "ReportFormat"),
    "ReportData": ("archiver.report.model", "ReportData"),
    "export_wacz": ("archiver.export", "export_wacz"),
    "replay_links": ("archiver.replay", "replay_links"),
    "ReplayLink": ("archiver.replay", "ReplayLink"),
}


def __getattr__(name: str) -> object:
    """An entry point or type of _LAZY, imported from its module on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module 'archiver' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


__all__ = [
    "FORMATS",
    "ArchiverError",
    "CollectionLocked",
    "Document",
    "FetchResult",
    "InputError",
    "Link",
    "ManifestEntry",
    "Problem",
    "RecheckSummary",
    "ReplayLink",
    "ReportData",
    "ReportFormat",
    "Role",
    "RunSummary",
    "Settings",
    "Status",
    "StorageError",
    "UnfetchableURL",
    "VerifyReport",
    "WarcRecordRef",
    "__version__",
    "archive",
    "export_wacz",
    "extract_links",
    "load_documents",
    "load_report",
    "recheck_collection",
    "render_report",
    "replay_links",
    "verify_collection",
    "verify_fast",
    "verify_files",
]
