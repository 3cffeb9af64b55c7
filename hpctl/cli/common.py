"""Options every command shares (as az does), the resolved settings, and the one error handler."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import click
import typer
from typer.core import TyperGroup

from hpctl.errors import EXIT_AZURE_FAILED, HpctlError, InputError
from hpctl.output import OUTPUT_FORMATS, PICTURE_FORMATS, TableLayout, check_query, table_layout

CLOUDS = ("AzureCloud", "AzureUSGovernment", "AzureChinaCloud", "sandbox")

log = logging.getLogger("hpctl")


@dataclass
class Settings:
    """The common options after merging the root callback, the subcommand and the environment."""

    subscription: str | None = None
    output: str = "json"
    query: str | None = None
    verbose: bool = False
    debug: bool = False
    only_show_errors: bool = False
    cloud: str = "AzureCloud"
    output_given: bool = False  # -o or $AZURE_CORE_OUTPUT was given (else commands may pick their own default)
    subscription_source: str = "none given"  # which of -s, the environment or the defaults chose it (--verbose)


# Set once per invocation by the wrapper; commands read it through settings().
_current = Settings()
# The common options given before the subcommand (`hpctl -o table status`), set by the root callback.
ROOT_OPTIONS: dict[str, Any] = {}


def settings() -> Settings:
    return _current


SubscriptionOpt = Annotated[
    str | None,
    typer.Option("--subscription", "-s", metavar="ID", help="Subscription id (default: $AZURE_SUBSCRIPTION_ID).",
                 show_default=False),
]
OutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", metavar="FORMAT", show_default=False,
                 help="Output format: json (the default, or $AZURE_CORE_OUTPUT), jsonc, yaml, table, tsv, none; "
                 "calendar also draws svg, report also writes markdown and junit."),
]
QueryOpt = Annotated[str | None, typer.Option("--query", metavar="JMESPATH",
                                              help="JMESPath query applied to the output.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Log progress details to stderr.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Log HTTP traffic, request ids and tracebacks.")]
OnlyErrorsOpt = Annotated[
    bool, typer.Option("--only-show-errors", help="Only show errors on stderr, no warnings or progress.")
]
WideOpt = Annotated[bool, typer.Option("--wide", help="Tables show every column (by default those that fit "
                                      "120 characters; ids, messages and patch lists are left out).")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", metavar="COL[,COL]", help="Tables and tsv show these columns, by header or field name "
    "(e.g. Name,Id).")]
CloudOpt = Annotated[
    str | None,
    typer.Option("--cloud", metavar="CLOUD", help="AzureCloud, AzureUSGovernment, AzureChinaCloud or sandbox "
                 "(default: $HPCTL_CLOUD or AzureCloud).", show_default=False),
]

_COMMON = [
    inspect.Parameter("subscription", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=SubscriptionOpt),
    inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OutputOpt),
    inspect.Parameter("query", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=QueryOpt),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOpt),
    inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=DebugOpt),
    inspect.Parameter("only_show_errors", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation=OnlyErrorsOpt),
    inspect.Parameter("cloud", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=CloudOpt),
    inspect.Parameter("wide", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=WideOpt),
    inspect.Parameter("columns", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ColumnsOpt),
]
COMMON_NAMES = tuple(p.name for p in _COMMON)


def resolve(root: dict[str, Any], local: dict[str, Any], extra_outputs: tuple[str, ...] = ()) -> Settings:
    """Merge options: the subcommand's value wins over the root's, which wins over the environment.

    `extra_outputs` are the document formats a command writes itself (e.g. reg, ps1) beside the usual ones.
    """

    def pick(name: str) -> Any:
        value = local.get(name)
        if value in (None, False):
            value = root.get(name, value)
        return value

    given = pick("output") or os.environ.get("AZURE_CORE_OUTPUT")
    output = given or "json"
    if output not in OUTPUT_FORMATS + extra_outputs:
        known = ", ".join(OUTPUT_FORMATS + extra_outputs)
        raise InputError(f"--output {output!r} is not a format hpctl knows; use one of {known}.")
    if output in extra_outputs and pick("query"):
        raise InputError(f"--query applies to json, yaml, table and tsv output, not to -o {output}.")
    cloud = pick("cloud") or os.environ.get("HPCTL_CLOUD") or "AzureCloud"
    match = {c.lower(): c for c in CLOUDS}.get(cloud.lower())
    if match is None:
        raise InputError(f"--cloud {cloud!r} is not a cloud hpctl knows; use one of {', '.join(CLOUDS)}.")
    check_query(pick("query"))
    columns = tuple(c.strip() for c in (pick("columns") or "").split(",") if c.strip())
    if pick("columns") is not None and not columns:
        raise InputError("--columns is empty; name the columns to show, e.g. --columns Name,Id.")
    if columns and pick("wide"):
        raise InputError("--wide shows every column and --columns only some; give one of them.")
    table_layout.set(TableLayout(wide=bool(pick("wide")), only=columns))
    from hpctl.defaults import choose_subscription

    subscription, source = choose_subscription(pick("subscription"), match)
    return Settings(
        subscription=subscription,
        subscription_source=source,
        output=output,
        query=pick("query"),
        verbose=bool(pick("verbose")),
        debug=bool(pick("debug")),
        only_show_errors=bool(pick("only_show_errors")),
        cloud=match,
        output_given=bool(given),
    )


def configure_logging(s: Settings) -> None:
    level = logging.DEBUG if s.debug else logging.INFO if s.verbose else logging.WARNING
    if s.only_show_errors:
        level = logging.ERROR
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_hpctl", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._hpctl = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    # azure-core logs every request at INFO (--debug material); azure-identity logs a failed credential
    # chain as a multi-line WARNING that hpctl reports itself as one line (--verbose shows it).
    logging.getLogger("azure").setLevel(logging.DEBUG if s.debug else logging.WARNING if s.verbose
                                        else logging.ERROR)
    logging.getLogger("hpctl").setLevel(level)


def warn(message: str) -> None:
    """A warning on stderr, unless --only-show-errors."""
    if not _current.only_show_errors:
        print(f"WARNING: {message}", file=sys.stderr)


def warn_if_stale(calendar: Any, today: Any) -> None:
    """Say once, on stderr, that the calendar is older than the day and how to refresh it."""
    stale = calendar.staleness(today)
    if stale is not None:
        warn(f"{stale.message}. {stale.hint}")


def info(message: str) -> None:
    """A status line on stderr (not data), unless --only-show-errors."""
    if not _current.only_show_errors:
        print(message, file=sys.stderr)


def report_error(exc: BaseException, debug: bool) -> int:
    """Print an error as az does (what, why, how to fix) and return the exit code. The one place."""
    error: HpctlError | None = exc if isinstance(exc, HpctlError) else None
    if error is None:
        # Imported lazily: the mapping needs azure-core, which --help must not load.
        from hpctl.edge.errors import translate

        error = translate(exc)
    if error is None:
        print(f"ERROR: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        print("Rerun with --debug for the traceback, and report it if it persists.", file=sys.stderr)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        return EXIT_AZURE_FAILED
    print(f"ERROR: {error.message}", file=sys.stderr)
    if error.hint:
        print(error.hint, file=sys.stderr)
    if debug:
        if error.request_id:
            print(f"Request id: {error.request_id}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    return error.exit_code


F = TypeVar("F", bound=Callable[..., Any])


def draws_pictures(fn: F) -> F:
    """Mark a command that takes the picture formats (-o svg); `command` refuses them for every other one."""
    fn.draws_pictures = True  # type: ignore[attr-defined]
    return fn


def extra_outputs(*formats: str) -> Callable[[F], F]:
    """Let a command accept document formats of its own in -o (apply below @command)."""

    def mark(fn: F) -> F:
        fn.extra_outputs = formats  # type: ignore[attr-defined]
        return fn

    return mark


def _default_group(kwargs: dict[str, Any]) -> None:
    """-g from `hpctl configure --defaults group=…` where a command takes -g and none (nor --ids) was given."""
    if "resource_group" not in kwargs or kwargs["resource_group"] is not None or kwargs.get("ids"):
        return
    from hpctl.defaults import config_path, read_defaults

    group = read_defaults().get("group")
    if group:
        log.info("Resource group: %s (from hpctl configure --defaults, %s).", group, config_path())
        kwargs["resource_group"] = group


def command(fn: F) -> F:
    """Give a command the common options (after the subcommand too) and the central error handling."""
    # Resolve string annotations (from __future__ import annotations) so Typer sees the Option metadata.
    # Not typing.get_type_hints: before 3.11 it wraps `Annotated[..., Option()] = None` in Optional[...],
    # which hides the Option from Typer (the option vanishes). eval_str keeps each annotation as written.
    sig = inspect.signature(fn, eval_str=True).replace(return_annotation=inspect.Signature.empty)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _current
        local = {name: kwargs.pop(name, None) for name in COMMON_NAMES}
        try:
            _current = resolve(ROOT_OPTIONS, local, getattr(fn, "extra_outputs", ()))
            configure_logging(_current)
            if _current.output in PICTURE_FORMATS and not getattr(fn, "draws_pictures", False):
                # Refused before the command runs: a write must not happen only to fail at rendering.
                raise InputError(f"--output {_current.output} draws a picture, which only `hpctl calendar "
                                 "--picture` has; use json, jsonc, yaml, table, tsv or none here.")
            log.info("Subscription: %s (from %s).", _current.subscription or "none", _current.subscription_source)
            _default_group(kwargs)
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 - this is the one place errors become exit codes
            raise typer.Exit(report_error(exc, _current.debug or bool(local.get("debug")))) from None

    wrapper.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *_COMMON])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**{p.name: p.annotation for p in sig.parameters.values()},
                               **{p.name: p.annotation for p in _COMMON}}
    return wrapper  # type: ignore[return-value]


# Options that take several values after one flag, as az's do (`--ids A B C`); Click takes one per flag.
MULTI_VALUE_OPTIONS = ("--ids", "--defaults")


def expand_multi_values(args: list[str]) -> list[str]:
    """`--ids A B C` becomes `--ids A --ids B --ids C`: every word after the flag up to the next option."""
    out: list[str] = []
    current: str | None = None  # the multi-value flag whose values are being read
    taken = 0  # how many values it has had
    for arg in args:
        if current is not None and (arg == "--" or (arg.startswith("-") and arg != "-")):
            if taken == 0:
                out.append(current)  # no value: let Click say the option needs one
            current = None
        if current is not None:
            out += [current, arg]
            taken += 1
            continue
        flag = arg.split("=", 1)[0]
        if flag in MULTI_VALUE_OPTIONS and arg.startswith("--"):
            current, taken = flag, 0
            if "=" in arg:
                out += [flag, arg.split("=", 1)[1]]
                taken = 1
            continue
        out.append(arg)
    if current is not None and taken == 0:
        out.append(current)
    return out


@contextmanager
def _whole_words() -> Iterator[None]:
    # Click wraps help with textwrap's default break_on_hyphens, which splits --reboot-setting and
    # 2026-06-09 across lines; help must wrap only between words. click.formatting.wrap_text looks its
    # TextWrapper up in click._textwrap on each call, so a variant is put there while help is written.
    from click import _textwrap

    original = _textwrap.TextWrapper

    class WholeWords(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "break_on_hyphens": False})

    _textwrap.TextWrapper = WholeWords  # type: ignore[misc]
    try:
        yield
    finally:
        _textwrap.TextWrapper = original  # type: ignore[misc]


class HelpFormatter(click.HelpFormatter):
    """Click's plain help layout, wrapped between words only, without Typer's Rich escapes (`\\[required]`)."""

    def write_text(self, text: str) -> None:
        with _whole_words():
            super().write_text(text)

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        # Typer escapes "[" for Rich even when Rich markup is off; this help is plain text.
        rows = [(term, text.replace("\\[", "[")) for term, text in rows]
        with _whole_words():
            super().write_dl(rows, col_max, col_spacing)


class HpctlGroup(TyperGroup):
    """hpctl's command groups: az's space-separated multi-value options are read before Click parses them,
    and the command list shows each command's whole first sentence (Click cuts it to fit with "...")."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_multi_values(args))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


# Every help screen (root, groups, commands) is laid out by HelpFormatter.
click.Context.formatter_class = HelpFormatter


# Target selection shared by assess, install, status (and later report/history).
NameOpt = Annotated[list[str] | None, typer.Option("--name", "-n", metavar="VM",
                                                   help="VM name (repeatable); needs -g.")]
GroupOpt = Annotated[str | None, typer.Option("--resource-group", "-g", metavar="GROUP", help="Resource group.")]
IdsOpt = Annotated[list[str] | None, typer.Option("--ids", metavar="ID", help="VM resource ids (space-separated "
                                                  "or repeated), e.g. from --query \"[].id\" -o tsv.")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", metavar="KEY[=VALUE]",
                                                   help="Only VMs with this tag (repeatable; all must match).")]
KindOpt = Annotated[str | None, typer.Option(
    "--kind", metavar="KIND", show_default=False,
    help="vm (Azure VMs), arc (Arc-connected machines, Azure Local VMs too) or all (default).")]
def _parallel_range(value: int) -> int:
    # Checked here rather than with min/max: Typer's range text in --help pulls in rich (+50 ms start-up).
    if not 1 <= value <= 64:
        raise typer.BadParameter(f"{value} is not between 1 and 64.")
    return value


MaxParallelOpt = Annotated[int, typer.Option("--max-parallel", metavar="N", show_default=False,
                                             callback=_parallel_range,
                                             help="How many VMs to work on at once: 1-64 (default 8).")]
NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Return once Azure accepted the operations.")]

