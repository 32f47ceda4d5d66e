"""The command line: options -> Settings, one library call, library errors -> exit codes.

Everything printed goes through `_say` or `_emit_json` (archiver.neutral): a URL, title, path or
error from an untrusted document, server or file never reaches the terminal with its control,
bidi or surrogate characters raw. Library warnings (the `archiver` logger) print the same way.
What a command says is built in the library, next to the command (run.summary, verify.text,
recheck.text, report.formats); this module only chooses and prints it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archiver import __version__
from archiver.config import Settings, settings_from_options
from archiver.errors import ArchiverError, StorageError
from archiver.neutral import for_terminal, json_for_terminal
from archiver.report.formats import FORMATS
from archiver.schema import SCHEMA, option_name, parse_setting

if TYPE_CHECKING:
    from archiver.recover.command import MementoLookup
    from archiver.run.fetchloop import Dispatch

# Each command imports what it needs: `verify` should not pay for httpx, lxml and rich.


class Exit(IntEnum):
    """The process's exit codes (DESIGN.md, "Command line")."""

    OK = 0
    PROBLEM = 1
    USAGE = 2
    INTERRUPTED = 130


def _settings(ctx: click.Context, values: dict[str, Any]) -> Settings:
    root: dict[str, Any] = ctx.find_root().params
    config = values.pop("config", None) or root.get("config")
    out = values.pop("out", None) or root.get("out")
    return settings_from_options(values, config, out)


def _emit_json(data: Any) -> None:
    click.echo(json_for_terminal(json.dumps(data, ensure_ascii=False, indent=None)))


def _say(text: str, *, err: bool = False, keep: str = "") -> None:
    """Print `text` with control characters escaped, except those in `keep` (say "\n")."""
    click.echo(for_terminal(text, keep), err=err)


class _Warnings(logging.Handler):
    """The library's warnings (bad manifest lines, a state file rebuilt) on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        _say(f"archiver: warning: {record.getMessage()}", err=True)


def _shared(options: dict[str, Any]) -> tuple[bool, int, bool]:
    """The shared options' --json, -v (a count) and -q, taken out of a command's `options`."""
    return options.pop("as_json"), options.pop("verbose"), options.pop("quiet")


_METAVARS = {"count": "N", "bytes": "SIZE", "seconds": "DURATION", "list": "LIST"}


class _Setting(click.ParamType[Any]):
    """An option read and checked by config.parse_setting, as the config file's value of the
    same name is: one schema (config.SCHEMA) for both."""

    def __init__(self, field_name: str) -> None:
        self.field_name = field_name
        self.spec = SCHEMA[field_name]
        self.name = self.spec.kind

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        if self.spec.choices:
            return "[" + "|".join(self.spec.choices) + "]"
        return _METAVARS.get(self.spec.kind, "TEXT")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = parse_setting(self.field_name, value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return parsed[0] if self.field_name == "allow_networks" else parsed


def _setting_option(name: str) -> Callable[[Any], Any]:
    """The option of the Settings field `name`, with its help from config.SCHEMA."""
    flag, help_text = f"--{option_name(name)}", SCHEMA[name].help
    if SCHEMA[name].kind == "flag":
        return click.option(flag, name, is_flag=True, default=None, help=help_text)
    if name == "ca_bundle":
        return click.option(flag, type=click.Path(dir_okay=False, exists=True), help=help_text)
    many: dict[str, Any] = {"multiple": True, "metavar": "CIDR"} if name == "allow_networks" else {}
    return click.option(flag, name, type=_Setting(name), help=help_text, **many)


def _options(*options: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One decorator adding `options` in the order given (as they show in --help)."""

    def add(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return add


with_shared = _options(
    click.option(
        "--out", type=click.Path(file_okay=False), help="Root holding warcs/ and manifests/."
    ),
    click.option("--config", type=click.Path(dir_okay=False), help="TOML file of option values."),
    click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout."),
    click.option(
        "-v",
        "--verbose",
        count=True,
        help="Say more on stderr: each link as it ends (archive, recheck), each page (export), "
        "notes (verify).",
    ),
    click.option("-q", "--quiet", is_flag=True, help="Say nothing but errors."),
)
"""The options every command that reads a collection takes."""

with_network = _options(*(_setting_option(n) for n, s in SCHEMA.items() if s.scope == "network"))
"""How a command reaches the network: every command that fetches (archive, recheck) takes
all of these, so a recheck goes out exactly as the archive run did."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """Preserve the images, media, sources and related articles that documents cite.

    \b
    archiver links examples/
    archiver archive examples/ -c news
    archiver verify -c news
    """
    logger = logging.getLogger("archiver")
    if not any(isinstance(handler, _Warnings) for handler in logger.handlers):
        logger.addHandler(_Warnings())
        logger.propagate = False


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def links(paths: tuple[str, ...]) -> None:
    """Print every link found in PATHS as JSON Lines; nothing is fetched.

    \b
    archiver links examples/ | jq -r 'select(.archive) | .url'
    """
    from archiver.extract.links import extract_links, link_json
    from archiver.run.plan import load_documents

    for document in load_documents(paths):
        for link in extract_links(document):
            _emit_json(link_json(link))


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-c", "--collection", required=True, help="Collection name ([A-Za-z0-9._-]+).")
@with_shared
@with_network
@_options(*(_setting_option(n) for n, spec in SCHEMA.items() if spec.scope == "archive"))
@_setting_option("archives")
@click.option("--fail-on-dead", is_flag=True, help="Exit 1 when any link is dead or failed.")
@click.pass_context
def archive(
    ctx: click.Context, /, paths: tuple[str, ...], fail_on_dead: bool, **options: Any
) -> None:
    """Fetch the selected links of PATHS into WARC files and a manifest.

    \b
    archiver archive examples/ -c news
    archiver archive docs/ -c news --proxy socks5://127.0.0.1:1080 --roles image,source
    """
    from archiver.progress import choose_progress
    from archiver.run.archive import archive as run_archive
    from archiver.run.summary import fail_on_dead_text, summary_text

    as_json, verbose, quiet = _shared(options)
    settings = _settings(ctx, options)
    shown = choose_progress(verbose > 0, quiet, as_json, lambda line: click.echo(line, err=True))
    lost: list[str] = []
    lookup = _memento_lookup(settings) if settings.recover else None  # checked before the run
    on_broker = _broker_dispatch(settings)  # so is the broker
    summary = run_archive(
        list(paths), settings, shown, lost.append if lookup else None, dispatch=on_broker
    )
    for warning in summary.warnings:
        _say(f"archiver: warning: {warning}", err=True)
    recovered = (
        _recover(settings, lookup, lost, verbose > 0 and not quiet) if lookup and lost else {}
    )
    said = recovered.pop("text", None)
    if as_json:
        _emit_json(dataclasses.asdict(summary) | ({"recover": recovered} if recovered else {}))
    elif not quiet:
        _say(summary_text(summary), keep="\n")
        if said is not None:
            _say(said)
    if on_broker is not None and not quiet and not as_json:
        _say(f"the captures are in the workers' parts: {MERGE_HINT.format(settings.collection)}")
    why = fail_on_dead_text(summary)
    if fail_on_dead and why:
        _say(f"archiver: exit 1: {why}", err=True)
        ctx.exit(Exit.PROBLEM)


MERGE_HINT = "archiver merge -c {} [--from DIR ...]"


def _broker_dispatch(settings: Settings) -> Dispatch | None:
    """With --broker: the dispatch that hands the run to workers, once the broker answered
    and the options suit a run on it (InputError otherwise); None without."""
    if not settings.broker:
        return None
    from archiver.distributed.broker import connect
    from archiver.distributed.enqueue import check_broker_run, dispatch

    check_broker_run(settings)
    connect(settings.broker).close()
    return dispatch


@cli.command()
@click.option("--broker", required=True, help="The broker's URL: redis://HOST:6379/0.")
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes on this machine.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=32,
    show_default=True,
    help="Batches in hand at once per process.",
)
@click.option(
    "--heartbeat-timeout",
    type=click.FloatRange(1, 86400),
    default=60.0,
    help="Seconds without a heartbeat before a worker's messages go to others (60).",
)
@click.option("--out", type=click.Path(file_okay=False), help="Where this worker writes (.).")
@click.option("--config", type=click.Path(dir_okay=False), help="TOML file of option values.")
@_options(
    *(
        _setting_option(n)
        for n in (
            "proxy",
            "ca_bundle",
            "trust_store",
            "concurrency",
            "allow_private",
            "allow_networks",
            "tls_verify",
        )
    )
)
@click.pass_context
def worker(ctx: click.Context, /, **options: Any) -> None:
    """Fetch what `archive --broker` enqueues, on this machine, until stopped (SIGTERM or
    Ctrl-C: the batches in hand are finished first). The run's settings come with the
    work; how this machine reaches the network (--proxy, --ca-bundle, --trust-store,
    --concurrency) and where it writes (--out) are its own, and a run can only narrow where
    it may connect and what it trusts (--allow-private, --allow-network, --tls-verify).

    \b
    archiver worker --broker redis://10.0.0.5:6379/0 --out /data/w1 --processes 4
    dramatiq archiver.distributed.actors   (ARCHIVER_BROKER=redis://... in the environment)
    """
    # Dramatiq reads its prefetch when first imported: one message in hand per thread, so
    # that a worker never sits on batches that an idle worker could fetch
    os.environ.setdefault("dramatiq_queue_prefetch", str(options["threads"]))
    from archiver.distributed.worker import WorkerOptions, prepare, serve

    own = WorkerOptions(
        options.pop("broker"),
        options.pop("processes"),
        options.pop("threads"),
        options.pop("heartbeat_timeout"),
    )
    settings = _settings(ctx, options)
    for fixed in prepare(own, settings):
        _say(
            f"archiver: repaired {fixed.path} (kept {fixed.kept} bytes, cut {fixed.cut})", err=True
        )
    ctx.exit(serve(own, settings))


@cli.command()
@click.argument("files", nargs=-1)
@click.option("-c", "--collection", help="Collection name.")
@click.option("--fast", is_flag=True, help="Sizes and counts only; no digests read.")
@with_shared
@click.pass_context
def verify(ctx: click.Context, /, files: tuple[str, ...], fast: bool, **options: Any) -> None:
    """Check WARC fixity and every manifest entry against the WARCs; or check WARC FILES
    from any tool (wget, warcio, ...) for gzip damage and digests.

    \b
    archiver verify -c news && echo intact
    archiver verify -c news --fast
    archiver verify crawl.warc.gz
    """
    from archiver.verify.fast import verify_fast, verify_files
    from archiver.verify.fixity import verify as run_verify
    from archiver.verify.text import report_lines

    as_json, verbose, quiet = _shared(options)
    if files and (options.get("collection") is not None or fast):
        raise click.UsageError("give WARC files or -c NAME, not both (--fast needs -c)")
    if files:
        report = verify_files(files)
    elif options.get("collection") is None:
        raise click.UsageError("give -c NAME or WARC files")
    else:
        settings = _settings(ctx, options)
        report = verify_fast(settings) if fast else run_verify(settings)
    if as_json:
        _emit_json(report.as_json())
    else:
        for line in report_lines(report, notes=verbose > 0, totals=not quiet):
            _say(line)
    if not report.ok:
        ctx.exit(Exit.PROBLEM)


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option("--role", "roles", help="Only these roles (e.g. image,source).")
@click.option("--older-than", type=click.FloatRange(0), help="Only links not checked for DAYS.")
@click.option(
    "--capture-changes",
    is_flag=True,
    help="Store what a changed, moved or returned link serves now (checks.jsonl names it).",
)
@click.option(
    "--dead/--no-dead",
    "include_dead",
    default=True,
    show_default=True,
    help="Also ask dead links whether they answer again.",
)
@with_shared
@with_network
@click.pass_context
def recheck(
    ctx: click.Context,
    /,
    roles: str | None,
    older_than: float | None,
    capture_changes: bool,
    include_dead: bool,
    **options: Any,
) -> None:
    """Ask each archived (and dead) link's origin again: still live? changed? back? A link
    that now leads elsewhere or serves another kind of thing is not live (checks.jsonl).

    \b
    archiver recheck -c news --older-than 30
    archiver recheck -c news --capture-changes --proxy socks5://127.0.0.1:1080
    """
    from archiver.recheck.check import recheck as run_recheck
    from archiver.recheck.text import check_text, summary_json, summary_text
    from archiver.schema import parse_roles

    as_json, verbose, quiet = _shared(options)
    chosen = parse_roles(roles) if roles else None
    settings = _settings(ctx, options)
    each = None
    if verbose and not quiet:
        each = lambda line: click.echo(check_text(line), err=True)  # noqa: E731
    summary = run_recheck(settings, chosen, older_than, capture_changes, include_dead, each)
    if as_json:
        _emit_json(summary_json(summary))
    elif not quiet:
        _say(summary_text(summary))


def _memento_lookup(settings: Settings) -> MementoLookup:
    """The web archives `recover` asks (--archives), checked: InputError for a bad list."""
    from archiver.recover.webarchives import WebArchives

    return WebArchives(settings)


def _recover(
    settings: Settings, lookup: MementoLookup, only: list[str] | None, verbose: bool
) -> dict[str, Any]:
    """Run recover (for the URLs `only`, or every due link); its summary as JSON, with the
    text line under `text`. Each link's line goes to stderr when `verbose`."""
    from archiver.recover.command import recover
    from archiver.recover.text import link_text, summary_json, summary_text

    each = (lambda line: click.echo(link_text(line), err=True)) if verbose else None
    summary = recover(settings, lookup, only, each)
    return summary_json(summary) | {"text": summary_text(summary)}


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option(
    "--all",
    "recover_all",
    is_flag=True,
    default=None,
    help=SCHEMA["recover_all"].help,
)
@click.option(
    "--older-than",
    "recover_older_than",
    type=_Setting("recover_older_than"),
    metavar="DAYS",
    help=SCHEMA["recover_older_than"].help,
)
@_setting_option("recover_delay")
@_setting_option("archives")
@with_shared
@with_network
@click.pass_context
def recover(ctx: click.Context, /, **options: Any) -> None:
    """Look each dead or failed link up in web archives and store the capture they hold,
    with its provenance; the link's line keeps its status and gains `recovered`.

    \b
    archiver recover -c news
    archiver recover -c news --all --older-than 7 -v
    """
    as_json, verbose, quiet = _shared(options)
    settings = _settings(ctx, options)
    done = _recover(settings, _memento_lookup(settings), None, verbose > 0 and not quiet)
    text = done.pop("text")
    if as_json:
        _emit_json(done)
    elif not quiet:
        _say(text)


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option(
    "--roles", "deposit_roles", type=_Setting("deposit_roles"), help=SCHEMA["deposit_roles"].help
)
@_options(*(_setting_option(n) for n, spec in SCHEMA.items() if spec.scope == "deposit"))
@with_shared
@with_network
@click.pass_context
def deposit(ctx: click.Context, /, **options: Any) -> None:
    """Submit the collection's live links to Save Page Now 2 (a second copy at the Internet
    Archive); keys from SAVEPAGENOW_ACCESS_KEY and SAVEPAGENOW_SECRET_KEY or the config file.

    \b
    archiver deposit -c news
    archiver deposit -c news --if-not-archived-within 30 --roles source -v
    """
    from archiver.deposit.run import deposit as run_deposit
    from archiver.deposit.text import line_text, summary_json, summary_text

    as_json, verbose, quiet = _shared(options)
    settings = _settings(ctx, options)
    each = None
    if verbose and not quiet:
        each = lambda line: click.echo(line_text(line), err=True)  # noqa: E731
    summary = run_deposit(settings, each)
    if as_json:
        _emit_json(summary_json(summary))
    elif not quiet:
        _say(summary_text(summary))
    if summary.refused:
        ctx.exit(Exit.PROBLEM)


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option(
    "--from",
    "sources",
    multiple=True,
    type=click.Path(),
    metavar="DIR",
    help="A worker's --out folder (copied from its machine); repeat for each. "
    "Default: the output root itself (workers on a shared filesystem).",
)
@with_shared
@click.pass_context
def merge(ctx: click.Context, /, sources: tuple[str, ...], **options: Any) -> None:
    """Bring the parts `archiver worker` wrote into the collection: WARC files into
    warcs/NAME (moved, or copied and checked), link lines into its manifest, one current line
    per link.

    \b
    archiver merge -c news                          (workers shared this output root)
    archiver merge -c news --from /mnt/w1 --from /mnt/w2
    """
    from archiver.distributed.merge import merge as run_merge
    from archiver.distributed.text import summary_json, summary_text

    as_json, _, quiet = _shared(options)
    summary = run_merge(_settings(ctx, options), [Path(source) for source in sources])
    if as_json:
        _emit_json(summary_json(summary))
    elif not quiet:
        _say(summary_text(summary))
    if not summary.ok:
        ctx.exit(Exit.PROBLEM)


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="html",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(), help="File (default stdout).")
@click.option(
    "--replay-base",
    metavar="URL",
    help="Where captures are replayed, linked beside each URL in html and md "
    "(default http://127.0.0.1:8080/NAME/, as `archiver replay` serves it).",
)
@with_shared
@click.pass_context
def report(
    ctx: click.Context, /, fmt: str, output: str | None, replay_base: str | None, **options: Any
) -> None:
    """Totals, losses by host and document, and link rot over time.

    \b
    archiver report -c news --format html -o news.html
    """
    from archiver.report.build import load_report
    from archiver.report.formats import render

    as_json, _, _ = _shared(options)
    if replay_base is not None and not replay_base.lower().startswith(("http://", "https://")):
        raise click.BadParameter("not an http:// or https:// URL", param_hint="'--replay-base'")
    shown = "json" if as_json else fmt
    data = load_report(_settings(ctx, options))
    text = render(dataclasses.replace(data, replay_base=replay_base), shown)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot write {output}: {exc.strerror or exc}", output) from exc
    else:
        safe = json_for_terminal(text) if shown == "json" else for_terminal(text, "\r\n")
        click.echo(safe, nl=not text.endswith("\n"))


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option("--wacz", "target", required=True, type=click.Path(), help="WACZ file to write.")
@with_shared
@click.pass_context
def export(ctx: click.Context, /, target: str, **options: Any) -> None:
    """Package the collection's WARCs as a WACZ file (replayweb.page, pywb --unpack-wacz).

    \b
    archiver export -c news --wacz news.wacz
    """
    from archiver.export import export_wacz

    as_json, verbose, quiet = _shared(options)
    written = export_wacz(_settings(ctx, options), Path(target))
    if verbose and not quiet:
        for page in written:
            _say(f"page {page.get('ts', '')} {page['url']}  {page.get('title', '')}", err=True)
    if as_json:
        _emit_json({"wacz": target, "pages": len(written)})
    elif not quiet:
        _say(f"wrote {target} with {len(written)} pages")


@cli.command()
@click.option("-c", "--collection", required=True, help="Collection name.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@with_shared
@click.pass_context
def replay(ctx: click.Context, /, port: int, **options: Any) -> None:
    """Serve the collection in pywb on 127.0.0.1 and print each document's replay URLs.

    \b
    archiver replay -c news --port 8080      (Ctrl-C stops it)
    """
    from archiver.replay import keep_in_sync, replay_links, sync_collection, wayback

    as_json, _, quiet = _shared(options)
    settings = _settings(ctx, options)
    sync_collection(settings)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    base = f"http://127.0.0.1:{port}"
    with wayback(settings, port) as server:
        try:
            for link in replay_links(settings, base):
                if as_json:
                    _emit_json(link.__dict__)
                elif not quiet:
                    fields = (link.document, link.role, link.replay_url)
                    click.echo("\t".join(for_terminal(field) for field in fields))
            click.echo(f"pywb serves {base}/{settings.collection}/ (Ctrl-C stops it)", err=True)
            raise ArchiverError(f"wayback exited with code {keep_in_sync(settings, server)}")
        except KeyboardInterrupt:
            click.echo("replay stopped", err=True)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what could
    not be written does not print a second error."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and exit 2 for bad usage; no tracebacks for known errors."""
    try:
        code = cli.main(args=argv, prog_name="archiver", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.UsageError as exc:
        _say(f"archiver: error: {exc.format_message()}", err=True)
        sys.exit(Exit.USAGE)
    except click.ClickException as exc:
        _say(f"archiver: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("archiver: interrupted", err=True)
        sys.exit(Exit.INTERRUPTED)
    except ArchiverError as exc:
        _say(f"archiver: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("archiver: interrupted; what was written is kept", err=True)
        sys.exit(Exit.INTERRUPTED)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(Exit.OK)
    except OSError as exc:  # standard output cannot be written (a full disk, /dev/full)
        _quiet_stdout()
        _say(f"archiver: error: cannot write the output: {exc.strerror or exc}", err=True)
        sys.exit(Exit.PROBLEM)
    sys.exit(code if isinstance(code, int) else Exit.OK)
