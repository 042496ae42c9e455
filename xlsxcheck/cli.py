"""Command line: `xlsxcheck check`, `xlsxcheck rollup`, `xlsxcheck rules`, `xlsxcheck profiles`.

Kept thin: options are parsed here, the work is done in pipeline.py and the reporters.
Heavy libraries (pandas, pandera, openpyxl) are imported only inside commands, so that
`xlsxcheck --help` and `xlsxcheck rules` start fast. Exit codes: 0 no errors, 1 errors
found (or warnings with --strict), 2 usage error or internal failure.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import __version__

__all__ = ["main", "cli"]

LANGS = click.Choice(["zh", "en"])


class CliError(click.ClickException):
    """A problem with the run itself (not with a workbook): exit code 2. Its message may
    name a path of any bytes and is shown with control characters and such bytes escaped."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        from .textsafety import for_terminal

        super().__init__(for_terminal(message))


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c.strip().upper() for v in values for c in v.split(",") if c.strip())


def _known_codes(codes: tuple[str, ...], option: str) -> tuple[str, ...]:
    """Codes and prefixes that name at least one rule; a typo would silently report nothing."""
    from .catalog import load_catalog

    catalog = load_catalog()
    unknown = [c for c in codes if not any(code.startswith(c) for code in catalog)]
    if unknown:
        raise click.UsageError(f"{option}: 未知规则代码或前缀 / unknown rule codes: {', '.join(unknown)} (见 / see `xlsxcheck rules`)")
    return codes


def _say(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


_OS_REASONS = {  # errno -> what a clerk can act on
    "EACCES": ("没有写入权限", "permission denied"), "EPERM": ("没有写入权限", "permission denied"),
    "EROFS": ("只读文件系统", "read-only file system"), "ENOSPC": ("磁盘空间不足", "disk full"),
    "EDQUOT": ("磁盘配额已满", "disk quota exceeded"), "ENOTDIR": ("路径中有同名文件而不是文件夹", "a part of the path is a file"),
    "EEXIST": ("已有同名文件，不是文件夹", "a file of that name exists, not a folder"), "ENAMETOOLONG": ("文件名过长", "file name too long"),
    "EISDIR": ("这是一个文件夹", "it is a folder"), "ENOENT": ("文件夹不存在", "no such folder"),
}


def _os_reason(exc: OSError, lang: str) -> str:
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    zh, en = _OS_REASONS.get(name, (exc.strerror or str(exc), exc.strerror or str(exc)))
    return _say(lang, zh, en)


def _writable_folder(folder: Path, lang: str, what: tuple[str, str]) -> None:
    """Fail before the check runs, in plain words, when an output folder cannot be written."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CliError(_say(lang, f"{what[0]}无法写入：{folder}（{_os_reason(exc, lang)}）",
                            f"cannot write the {what[1]} in {folder} ({_os_reason(exc, lang)})")) from exc


def _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang, timeout):
    """Options from the config file, overridden by what was given on the command line."""
    from .config import ConfigError, find_config, inside_checked_folders, load_config
    from .pipeline import Options
    from .textsafety import for_terminal

    cfg: dict = {}
    cfg_path = Path(config) if config else find_config(Path(paths[0]) if paths else Path.cwd())
    if cfg_path:
        try:
            cfg = load_config(cfg_path)
        except ConfigError as exc:
            raise CliError(str(exc)) from exc
    # A config found (not given) inside a folder being checked may have come with the filings.
    smuggled = bool(cfg_path and not config and inside_checked_folders(cfg_path, paths))
    if smuggled:
        click.secho(f"警告：使用了被审核文件夹内的配置文件 {for_terminal(str(cfg_path))}，其设置（如 ignore、select、severity）"
                    "会改变审核结果；如非本意，请删除它或用 --config 指定配置文件 / warning: the configuration file comes from "
                    "inside a folder being checked", err=True, fg="red", bold=True)
    opts = Options(
        profile=profile or cfg.get("profile"),
        rules_dir=rules_dir or cfg.get("rules_dir"),
        jobs=jobs if jobs is not None else int(cfg.get("jobs", 0)),
        select=_known_codes(_codes(select) or tuple(x.upper() for x in cfg.get("select", [])), "--select"),
        ignore=_known_codes(_codes(ignore) or tuple(x.upper() for x in cfg.get("ignore", [])), "--ignore"),
        severity={k.upper(): v for k, v in cfg.get("severity", {}).items()},
        registry=registry or cfg.get("registry"),
        waivers=waivers or cfg.get("waivers"),
        require=tuple(cfg.get("require", ())),
        timeout=timeout or float(cfg.get("timeout", 30)),
        config=str(cfg_path.resolve()) if cfg_path else None,
        config_in_inputs=smuggled,
    )
    if "supersede" in cfg:
        from .checks.duplicate_filing import CRITERIA

        opts.supersede = tuple(cfg["supersede"])
        unknown = [c for c in opts.supersede if c not in CRITERIA]
        if unknown:
            raise CliError(f"{cfg_path}: supersede: 未知条件 / unknown criteria {', '.join(map(str, unknown))} (可用 / use {', '.join(CRITERIA)})")
    return opts, strict or bool(cfg.get("strict", False)), lang or cfg.get("lang", "zh")


class _Progress:
    """A progress bar on stderr (never on stdout, which carries the report), shown on a
    terminal for runs of 10 files or more."""

    def __init__(self, quiet: bool, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.label = label
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=True, console=Console(file=sys.stderr), disable=quiet or not sys.stderr.isatty())
        self.task = None

    def start(self, n: int) -> None:
        if n >= 10:
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=n)

    def advance(self, k: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, k)

    def stop(self) -> None:
        self.bar.stop()


def _run(paths, opts, quiet: bool, lang: str = "zh", meanwhile=None):
    from .listfile import ListFileError
    from .pipeline import run

    progress = _Progress(quiet, _say(lang, "审核", "checking"))
    try:
        return run(paths, opts, progress=progress.advance, on_discovered=progress.start, meanwhile=meanwhile)
    except ListFileError as exc:
        raise CliError(str(exc)) from exc
    except KeyError as exc:
        raise CliError(f"未知模板 / unknown profile: {exc.args[0]} (see `xlsxcheck profiles`)") from exc
    finally:
        progress.stop()


def _nothing_found(result, paths, lang: str) -> CliError:
    found = result.discovery
    own = len(found.own_outputs)
    what = _say(lang, f"未找到要审核的 Excel 文件：{'、'.join(map(str, paths))}", f"nothing to check in {', '.join(map(str, paths))}")
    if found.skipped:
        what += _say(lang, f"（跳过 {len(found.skipped)} 个文件，其中 xlsxcheck 生成的 {own} 个）",
                     f" ({len(found.skipped)} files skipped, {own} of them written by xlsxcheck)")
    return CliError(what)


def _common(fn):
    options = [
        click.argument("paths", nargs=-1, required=True),
        click.option("--profile", help="指定模板（见 xlsxcheck profiles），不自动识别 / force a template profile."),
        click.option("--select", multiple=True, help="只报告这些规则代码或前缀，如 F,S201 / report only these codes or prefixes."),
        click.option("--ignore", multiple=True, help="不报告这些规则代码或前缀 / do not report these codes or prefixes."),
        click.option("--jobs", "-j", type=click.IntRange(min=0), default=None, help="并行进程数，默认全部 CPU 核 / worker processes (default: all cores)."),
        click.option("--registry", type=click.Path(dir_okay=False), help="单位名录 CSV/xlsx：单位名称, 主管部门[, 上级单位] / unit registry."),
        click.option("--waivers", type=click.Path(dir_okay=False), help="审核说明 CSV/xlsx：单位, 规则, 字段, 说明 / accepted warnings."),
        click.option("--rules-dir", type=click.Path(file_okay=False), help="其他模板目录（*.yaml） / extra template profiles."),
        click.option("--config", type=click.Path(dir_okay=False), help="配置文件，默认向上查找 xlsxcheck.toml / config file."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="每个文件的审核时限（秒），默认 30 / time budget per file in seconds (default 30)."),
        click.option("--strict", is_flag=True, default=False, help="有警告也返回 1 / warnings fail the run too."),
        click.option("--lang", type=LANGS, default=None, help="信息语言，默认中文 / message language."),
        click.option("--quiet", "-q", is_flag=True, help="不显示进度条 / no progress bar."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xlsxcheck")
def cli() -> None:
    """预算绩效自评表审核与汇总 / check and consolidate budget performance self-evaluation workbooks.

    \b
    xlsxcheck check 自评表/                   列出全部问题 / every mistake, colored
    xlsxcheck check 自评表/ --format json     JSON（或 csv）/ the same as JSON or CSV
    xlsxcheck check 自评表/ --annotate 批注/   标注问题的副本，可退回单位 / marked copies
    xlsxcheck rollup 自评表/ -o 汇总.xlsx      汇总工作簿 / the bureau-wide summary
    xlsxcheck rules [代码]                     规则目录 / the rule catalog

    退出码 exit codes: 0 无错误 no errors · 1 有错误 errors · 2 用法或内部错误 usage/internal · 130 中断 Ctrl-C
    """


@cli.command()
@_common
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="报告写入文件 / write the report to FILE.")
@click.option("--annotate", type=click.Path(file_okay=False), help="在 DIR 中为有问题的文件生成标注副本（自评报告 .docx 加批注） / annotated copies (reports: Word comments) into DIR.")
@click.option("--annotate-clean", is_flag=True, help="未发现问题的文件也生成副本 / a copy of clean workbooks too.")
@click.option("--summary", "summary_only", is_flag=True, help="只列出各单位（按错误数排序） / only the units, most errors first.")
@click.option("--color/--no-color", default=None, help="强制开/关颜色 / force color on or off.")
def check(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, timeout, strict, lang, quiet, fmt, output,
          annotate, annotate_clean, summary_only, color):
    """审核自评表（文件、文件夹或通配符）并列出全部问题；同目录的自评报告（.docx/.pdf）与其自评表核对 / check workbooks (and the reports beside them) and report every finding."""
    opts, strict, lang = _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang, timeout)
    if output:
        _writable_folder(Path(output).absolute().parent, lang, ("报告", "report"))
    if annotate:
        _annotate_folder_apart(Path(annotate), paths, lang)
        _writable_folder(Path(annotate), lang, ("批注副本", "annotated copies"))
    result = _run(paths, opts, quiet, lang)
    if not result.books and not result.reports:
        raise _nothing_found(result, paths, lang)
    if annotate:
        _annotate(result, annotate, lang, opts, quiet, annotate_clean)
    _write_report(result, fmt, output, lang, color, summary_only)
    sys.exit(_exit_code(result, strict))


def _annotate_folder_apart(folder: Path, paths, lang: str) -> None:
    """Copies keep the names of their inputs: written into a checked folder itself they would replace them."""
    out = folder.resolve()
    for arg in paths:
        given = Path(arg)
        if (given if given.is_dir() else given.parent).resolve() == out:
            raise CliError(_say(lang, f"批注副本不能写入被审核的文件夹本身（会覆盖原文件）：{folder}，请另选一个文件夹",
                                f"the annotated copies cannot go into a checked folder itself (they would replace the inputs): {folder}"))


def _annotate(result, folder: str, lang: str, opts, quiet: bool, include_clean: bool) -> dict[str, Path]:
    """Annotated copies; a workbook that cannot be annotated adds a D605 finding to the run.
    Returns each annotated workbook's copy by its file (the rollup links to them)."""
    from .pipeline import select_findings
    from .report.annotate import annotate_all, copy_target

    progress = _Progress(quiet, _say(lang, "批注", "annotating"))
    progress.start(len(result.books))
    try:
        written, failed = annotate_all(result.books, result.findings, folder, lang, include_clean=include_clean,
                                       jobs=opts.jobs or os.cpu_count() or 1, progress=progress.advance)
    finally:
        progress.stop()
    if result.reports:  # .docx reports: a copy with a Word comment on each sentence a finding is about
        from .narrative.annotate import annotate_reports

        more, more_failed = annotate_reports(result.reports, result.findings, folder, [b.path for b in result.books], lang,
                                             include_clean=include_clean)
        written, failed = written + more, failed + more_failed
    result.add_findings(select_findings(failed, opts))  # --select/--ignore and [severity] apply to D605 too
    click.echo(_say(lang, f"批注副本 {len(written)} 个 → {folder}", f"annotated copies: {len(written)} → {folder}")
               + (_say(lang, f"（{len(failed)} 个文件无法标注，见 D605）", f" ({len(failed)} could not be annotated, see D605)") if failed else ""),
               err=True)
    made = {str(p) for p in written}
    return {b.file: target for b in result.books for suffix in (".xlsx", ".xlsm")
            if str(target := copy_target(Path(folder), b.file, suffix)) in made}


def _write_report(result, fmt: str, output: str | None, lang: str, color: bool | None, summary_only: bool = False) -> None:
    from .output import OutputError, atomic_path, refuse_inputs

    if fmt == "text":
        from .report.terminal import render_summary, render_text

        render = render_summary if summary_only else render_text
        if output is None:
            render(result, sys.stdout, lang, color=color)
            return
        import io

        buf = io.StringIO()
        render(result, buf, lang, color=False, width=120)
        text = buf.getvalue()
    else:
        from .report.machine import to_csv, to_json

        text = to_json(result, lang) if fmt == "json" else to_csv(result, lang)
        if output is None:
            sys.stdout.write(text)
            return
    try:
        refuse_inputs(Path(output), result.inputs)
        with atomic_path(output) as tmp:
            tmp.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    except OutputError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:  # named by the target, not by the temporary file beside it
        raise CliError(_say(lang, f"报告无法写入：{output}（{_os_reason(exc, lang)}）",
                            f"cannot write the report {output} ({_os_reason(exc, lang)})")) from exc


def _exit_code(result, strict: bool) -> int:
    counts = result.counts()
    if any(f.code == "R099" for f in result.findings):
        return 2
    if counts["error"] or (strict and counts["warning"]):
        return 1
    return 0


@cli.command()
@_common
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="汇总工作簿 .xlsx / the rollup workbook to write.")
@click.option("--exclude-errors", is_flag=True, help="有错误的单位不计入合计（仍列出） / leave units with errors out of totals.")
@click.option("--annotate", type=click.Path(file_okay=False), help="同时在 DIR 中生成批注副本，汇总表链接到副本 / annotated copies into DIR, linked from the rollup.")
def rollup(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, timeout, strict, lang, quiet, output,
           exclude_errors, annotate):
    """把各单位自评表汇总为一个工作簿 / merge every unit's workbook into one summary workbook."""
    from .output import OutputError, refuse_inputs
    from .rollup import load_writer, write_rollup
    from .textsafety import for_terminal

    opts, strict, lang = _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang, timeout)
    if not output.lower().endswith(".xlsx"):
        raise CliError("汇总文件须为 .xlsx / the rollup must be an .xlsx file")
    opts.rollup_rows = True
    _writable_folder(Path(output).absolute().parent, lang, ("汇总表", "rollup"))
    if annotate:
        _annotate_folder_apart(Path(annotate), paths, lang)
        _writable_folder(Path(annotate), lang, ("批注副本", "annotated copies"))
    result = _run(paths, opts, quiet, lang, meanwhile=load_writer)
    if not result.books:
        raise _nothing_found(result, paths, lang)
    copies = _annotate(result, annotate, lang, opts, quiet, False) if annotate else {}
    try:
        refuse_inputs(Path(output), result.inputs)  # the registry, waivers and config are inputs too
        summary = write_rollup(result, output, lang=lang, exclude_errors=exclude_errors, annotated=copies)
    except OutputError as exc:
        raise CliError(str(exc)) from exc
    except OSError as exc:  # named by the target, not by the temporary file beside it
        raise CliError(_say(lang, f"汇总表无法写入：{output}（{_os_reason(exc, lang)}）",
                            f"cannot write the rollup {output} ({_os_reason(exc, lang)})")) from exc
    click.echo(for_terminal(summary), err=True)
    sys.exit(_exit_code(result, strict))


@cli.command()
@click.argument("code", required=False)
@click.option("--lang", type=LANGS, default="zh", show_default=True)
@click.option("--markdown", is_flag=True, help="以 Markdown 输出整个规则目录 / the catalog as Markdown.")
def rules(code, lang, markdown):
    """列出规则目录或解释一条规则，如 xlsxcheck rules F102 / list or explain the rules."""
    from .catalog import load_catalog
    from .ruledoc import explain, listing, markdown_catalog

    catalog = load_catalog()
    if markdown:
        click.echo(markdown_catalog(catalog), nl=False)
    elif code:
        code = code.strip().upper()
        if code in catalog:
            click.echo(explain(catalog[code], lang))
            return
        group = {k: r for k, r in catalog.items() if k.startswith(code)}  # a prefix, as --select takes it
        if not group:
            raise CliError(_say(lang, f"未知规则代码：{code}（见 xlsxcheck rules）", f"unknown rule code: {code} (see xlsxcheck rules)"))
        click.echo(listing(group, lang))
    else:
        click.echo(listing(catalog, lang))


@cli.command()
@click.option("--rules-dir", type=click.Path(file_okay=False), help="其他模板目录（*.yaml） / extra template profiles.")
@click.option("--lang", type=LANGS, default="zh", show_default=True)
def profiles(rules_dir, lang):
    """列出模板（各省、各年度的一级指标分值） / list the template profiles."""
    from .profiles import load_profiles

    for p in load_profiles(rules_dir).values():
        weights = [f"{k} {v:g}" for k, v in p.level1.items()] or ["level-1 weights free"]
        click.echo(f"{p.id:<10} {p.name(lang)}\n{'':<10} {', '.join(weights)}, funds {p.funds_weight:g}")


def main() -> None:
    try:
        code = cli.main(prog_name="xlsxcheck", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        # A generator cut short (openpyxl's lxml writer) must not print its traceback on the way out.
        sys.unraisablehook = lambda _: None
        click.echo("\n已中断 / interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # a defect of ours: say so briefly, with the way to learn more
        if os.environ.get("XLSXCHECK_DEBUG"):
            raise
        from .textsafety import for_terminal

        click.echo(f"xlsxcheck 内部错误 / internal error: {type(exc).__name__}: {for_terminal(str(exc))}\n"
                   "请设置 XLSXCHECK_DEBUG=1 重新运行并报告 / rerun with XLSXCHECK_DEBUG=1 and report it", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
