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
    """A problem with the run itself (not with a workbook): exit code 2."""

    exit_code = 2


def _codes(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c.strip().upper() for v in values for c in v.split(",") if c.strip())


def _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang):
    """Options from the config file, overridden by what was given on the command line."""
    from .config import ConfigError, find_config, load_config
    from .pipeline import Options

    cfg: dict = {}
    cfg_path = Path(config) if config else find_config(Path(paths[0]) if paths else Path.cwd())
    if cfg_path:
        try:
            cfg = load_config(cfg_path)
        except ConfigError as exc:
            raise CliError(str(exc)) from exc
    opts = Options(
        profile=profile or cfg.get("profile"),
        rules_dir=rules_dir or cfg.get("rules_dir"),
        jobs=jobs if jobs is not None else int(cfg.get("jobs", 0)),
        select=_codes(select) or tuple(x.upper() for x in cfg.get("select", [])),
        ignore=_codes(ignore) or tuple(x.upper() for x in cfg.get("ignore", [])),
        severity={k.upper(): v for k, v in cfg.get("severity", {}).items()},
        registry=registry or cfg.get("registry"),
        waivers=waivers or cfg.get("waivers"),
        require=tuple(cfg.get("require", ())),
    )
    return opts, strict or bool(cfg.get("strict", False)), lang or cfg.get("lang", "zh")


def _run(paths, opts, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .listfile import ListFileError
    from .pipeline import run

    show = not quiet and sys.stderr.isatty()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True, disable=not show)
    task = None

    def discovered(n: int) -> None:
        nonlocal task
        if n >= 10:
            progress.start()
            task = progress.add_task("审核 / checking", total=n)

    def advance(k: int) -> None:
        if task is not None:
            progress.advance(task, k)

    try:
        return run(paths, opts, progress=advance, on_discovered=discovered)
    except ListFileError as exc:
        raise CliError(str(exc)) from exc
    except KeyError as exc:
        raise CliError(f"未知模板 / unknown profile: {exc.args[0]} (see `xlsxcheck profiles`)") from exc
    finally:
        progress.stop()


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

    退出码 exit codes: 0 无错误 no errors · 1 有错误 errors · 2 用法或内部错误 usage/internal
    """


@cli.command()
@_common
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="报告写入文件 / write the report to FILE.")
@click.option("--annotate", type=click.Path(file_okay=False), help="在 DIR 中生成标注问题的工作簿副本 / annotated copies into DIR.")
@click.option("--color/--no-color", default=None, help="强制开/关颜色 / force color on or off.")
def check(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang, quiet, fmt, output, annotate, color):
    """审核自评表（文件、文件夹或通配符）并列出全部问题 / check workbooks and report every finding."""
    opts, strict, lang = _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang)
    result = _run(paths, opts, quiet)
    if not result.books and result.discovery.missing:
        raise CliError("未找到要审核的文件 / nothing to check: " + ", ".join(result.discovery.missing))
    _write_report(result, fmt, output, lang, color)
    if annotate:
        from .output import OutputError
        from .report.annotate import annotate_all

        try:
            written = annotate_all(result.books, result.findings, annotate, lang)
        except (OutputError, OSError) as exc:
            raise CliError(str(exc)) from exc
        click.echo(f"{'批注文件' if lang == 'zh' else 'annotated copies'}: {len(written)} → {annotate}", err=True)
    sys.exit(_exit_code(result, strict))


def _write_report(result, fmt: str, output: str | None, lang: str, color: bool | None) -> None:
    from .output import OutputError, atomic_path, refuse_inputs

    if fmt == "text":
        from .report.terminal import render_text

        if output is None:
            render_text(result, sys.stdout, lang, color=color)
            return
        import io

        buf = io.StringIO()
        render_text(result, buf, lang, color=False, width=120)
        text = buf.getvalue()
    else:
        from .report.machine import to_csv, to_json

        text = to_json(result, lang) if fmt == "json" else to_csv(result, lang)
        if output is None:
            sys.stdout.write(text)
            return
    try:
        refuse_inputs(Path(output), [b.path for b in result.books])
        with atomic_path(output) as tmp:
            tmp.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    except (OutputError, OSError) as exc:
        raise CliError(str(exc)) from exc


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
def rollup(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang, quiet, output, exclude_errors):
    """把各单位自评表汇总为一个工作簿 / merge every unit's workbook into one summary workbook."""
    from .output import OutputError
    from .rollup import write_rollup

    opts, strict, lang = _options(paths, profile, select, ignore, jobs, registry, waivers, rules_dir, config, strict, lang)
    if not output.lower().endswith(".xlsx"):
        raise CliError("汇总文件须为 .xlsx / the rollup must be an .xlsx file")
    opts.rollup_rows = True
    result = _run(paths, opts, quiet)
    if not result.books:
        raise CliError("未找到要汇总的文件 / nothing to roll up")
    try:
        summary = write_rollup(result, output, lang=lang, exclude_errors=exclude_errors)
    except (OutputError, OSError) as exc:
        raise CliError(str(exc)) from exc
    click.echo(summary, err=True)
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
        rule = catalog.get(code.strip().upper())
        if rule is None:
            raise CliError(f"未知规则代码 / unknown rule code: {code}")
        click.echo(explain(rule, lang))
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
        cli.main(prog_name="xlsxcheck")
    except KeyboardInterrupt:
        click.echo("已中断 / interrupted", err=True)
        sys.exit(2)
    except Exception as exc:  # a defect of ours: say so briefly, with the way to learn more
        if os.environ.get("XLSXCHECK_DEBUG"):
            raise
        click.echo(f"xlsxcheck 内部错误 / internal error: {type(exc).__name__}: {exc}\n"
                   "请设置 XLSXCHECK_DEBUG=1 重新运行并报告 / rerun with XLSXCHECK_DEBUG=1 and report it", err=True)
        sys.exit(2)
