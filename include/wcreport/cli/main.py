"""`wcreport` command line: templates, sample data, self-check, programme check, mail and mailbox ledgers.

User-facing output is Chinese; errors are one readable line, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wcreport.core.faults import OperationsFault
from wcreport.core.programme import ProgrammeError, load_programme, programme_path_for
from wcreport.core.quarter import Quarter
from wcreport.core.settings import inbox_root


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ProgrammeError, OperationsFault, ValueError, KeyError, OSError) as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wcreport", description="妇女儿童实事季度报表工具")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    templates = sub.add_parser("templates", help="为各责任单位生成本季度空白报表 (one .xlsx per unit)")
    _quarter_args(templates)
    templates.add_argument("--out", required=True, type=Path, help="output folder")
    templates.add_argument("--unit", help="only this unit (key or name)")
    templates.add_argument("--output", type=Path, default=None,
                           help="output root with the previous quarter's results, shown for reference "
                                "(default $REPORT_OUTPUT)")
    templates.add_argument("--zip", nargs="?", const="quarter", choices=("quarter", "unit"),
                           help="also zip the forms for mailing: one zip for the quarter (default) or one per unit")
    templates.set_defaults(handler=_templates)

    sample = sub.add_parser("sample", help="生成演示用的单位报送文件 (sample submissions)")
    _quarter_args(sample)
    sample.add_argument("--inbox", type=Path, default=None, help="inbox root (default $REPORT_INBOX)")
    sample.add_argument("--seed", type=int, default=2023)
    sample.add_argument("--faulty", action="store_true", help="also write a few faulty files")
    sample.set_defaults(handler=_sample)

    check = sub.add_parser("check", help="报送前自查一个文件 (self-check one file)")
    check.add_argument("file", type=Path)
    check.add_argument("--year", type=int, default=None, help="programme year (default: from file or current)")
    check.add_argument("--unit", help="expected unit (key or name)")
    check.set_defaults(handler=_check)

    programme = sub.add_parser("programme", help="检查年度实事配置文件 (validate a programme file)")
    programme.add_argument("file", type=Path)
    programme.set_defaults(handler=_programme)

    ledger = sub.add_parser("ledger", help="核对或重建邮件发送台账 (verify or rebuild mail_ledger.json from the sent copies)")
    ledger.add_argument("action", choices=("verify", "rebuild"))
    ledger.add_argument("--output", required=True, type=Path, help="output root (the folder of mail_ledger.json)")
    ledger.set_defaults(handler=_ledger)

    mailbox = sub.add_parser("mailbox-ledger",
                             help="核对或重建收件台账 (verify or rebuild mailbox/ledger.json from the kept mails)")
    mailbox.add_argument("action", choices=("verify", "rebuild"))
    mailbox.add_argument("--output", required=True, type=Path, help="output root (the folder holding mailbox/)")
    mailbox.set_defaults(handler=_mailbox_ledger)
    return parser


def _quarter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quarter", required=True, help="e.g. 2023Q1")
    parser.add_argument("--programme", type=Path, default=None,
                        help="programme file (default include/programmes/<year>.yaml)")


def _load(args) -> tuple:
    quarter = Quarter.parse(args.quarter)
    path = args.programme or programme_path_for(quarter.year)
    return quarter, load_programme(path)


def _templates(args) -> int:
    from wcreport.core.settings import output_root
    from wcreport.deliver.forms import previous_accepted, quarter_zip_filename, write_quarter_templates, zip_files

    quarter, programme = _load(args)
    units = [programme.unit(args.unit)] if args.unit else programme.units
    root = args.output or output_root()
    paths = write_quarter_templates(programme, quarter, args.out, output_root=root, unit_keys=[u.key for u in units])
    for unit, path in zip(units, paths):
        note = "（含上季度报送内容，仅供参考）" if previous_accepted(root, unit.key, quarter) else ""
        print(f"已生成 {unit.name}: {path}{note}")
    if args.zip == "quarter":
        print(f"已打包: {zip_files(paths, args.out / quarter_zip_filename(quarter))}")
    elif args.zip == "unit":
        for path in paths:
            print(f"已打包: {zip_files([path], path.with_suffix('.zip'))}")
    return 0


def _sample(args) -> int:
    from wcreport.demo.sample import SampleOptions, write_quarter_samples

    quarter, programme = _load(args)
    written = write_quarter_samples(programme, quarter, args.inbox or inbox_root(),
                                    SampleOptions(seed=args.seed, faulty=args.faulty))
    print(f"已写入 {len(written)} 个文件到 {written[0].parent}")
    return 0


def _check(args) -> int:
    from wcreport.validate.selfcheck import check_file

    if not args.file.is_file():
        raise ValueError(f"找不到文件 / file not found: {args.file}")
    year = args.year or _guess_year()
    programme = load_programme(programme_path_for(year))
    unit_key = programme.unit(args.unit).key if args.unit else None
    accepted, text = check_file(args.file, programme, unit_key)
    print(text)
    return 0 if accepted else 1


def _programme(args) -> int:
    programme = load_programme(args.file)
    print(f"配置有效 / valid: {programme.year}年, {len(programme.tasks)} 项实事, "
          f"{len(programme.units)} 个责任单位")
    return 0


def _ledger(args) -> int:
    """verify: exit 1 when the ledger is damaged or lacks sent mail; rebuild: write it from the copies."""
    from wcreport.deliver.sent_copies import ledger_problems, rebuild_ledger, sent_copies

    root = args.output
    path = root / "mail_ledger.json"
    copies = sent_copies(root)
    if args.action == "rebuild":
        ledger, old = rebuild_ledger(path)
        print(f"已重建 / rebuilt {path}: {len(ledger['sent'])} 封已发送邮件 (from {len(copies)} kept copies)")
        if old is not None:
            print(f"原台账已保留为 / the old ledger is kept as {old}")
        return 0
    try:
        ledger = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"sent": []}
    except ValueError as exc:
        ledger = exc
    if not isinstance(ledger, dict) or not isinstance(ledger.get("sent"), list):
        print(f"台账已损坏 / {path} is damaged ({ledger if isinstance(ledger, Exception) else 'not a ledger'}); "
              f"fix: wcreport ledger rebuild --output {root}")
        return 1
    problems = ledger_problems(ledger, root)
    state = "存在 / exists" if path.exists() else "缺失 / MISSING"
    print(f"{path} {state}: {len(ledger.get('sent', []))} entries; {len(copies)} kept copies of sent mail")
    for problem in problems:
        print(f"  - {problem}")
    if problems:
        print(f"修复 / fix: wcreport ledger rebuild --output {root}")
        return 1
    print("一致 / consistent")
    return 0


def _mailbox_ledger(args) -> int:
    """verify: exit 1 when the mailbox ledger is damaged or lacks kept mail; rebuild: write it from them."""
    from wcreport.core.io import DamagedStateError
    from wcreport.intake.mailbox_ledger import ledger_path, read_ledger, rebuild_ledger

    root = args.output
    path = ledger_path(root)
    if args.action == "rebuild":
        rebuilt = rebuild_ledger(root)
        print(f"已重建 / rebuilt {path}: {len(rebuilt.ledger['messages'])} 封邮件 "
              f"({rebuilt.restored} from the entries kept beside the mails)")
        if rebuilt.old is not None:
            print(f"原台账已保留为 / the old ledger is kept as {rebuilt.old}")
        for name in rebuilt.unreadable:
            print(f"  - 无法读取 / unreadable kept entry: {name}")
        return 1 if rebuilt.unreadable else 0
    try:
        ledger = read_ledger(root)
    except DamagedStateError as exc:
        print(f"台账需重建 / {exc}")
        return 1
    state = "存在 / exists" if path.exists() else "尚无 / none yet"
    print(f"{path} {state}: {len(ledger['messages'])} 封邮件; 一致 / consistent")
    return 0


def _guess_year() -> int:
    import datetime as dt

    years = sorted(int(p.stem) for p in programme_path_for(2000).parent.glob("*.yaml")
                   if p.stem.isdigit())
    today = dt.date.today().year
    return today if today in years else years[-1]


if __name__ == "__main__":
    sys.exit(main())
