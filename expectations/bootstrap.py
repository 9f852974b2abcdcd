"""(Re)create the non-rule parts of the GX project: data source, assets, batch
definitions, validation definitions and checkpoints. Idempotent (add_or_update).

The suites in gx/expectations/*.json are the rules and are edited by review, not
generated here. Run after changing a suite's name or adding a suite:

    .venv/bin/python expectations/bootstrap.py [PROJECT_ROOT]
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DATASOURCE = "unit_reports"
TABLES = ("progress_rows", "indicators")     # asset = suite = validation definition = checkpoint
BATCH = "whole_frame"
SITE = "local_site"
# Row index column for mapping failing rows back to cells (see wcreport.validate.messages).
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"],
                 "include_unexpected_rows": False, "partial_unexpected_count": 20}


def bootstrap(project_root: Path) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    scratch = Path(tempfile.mkdtemp(prefix="gx-bootstrap-"))
    ctx = gx.get_context(mode="file", project_root_dir=project_root, runtime_environment={
        "WCREPORT_RESULTS_DIR": str(scratch / "results"),
        "WCREPORT_DATA_DOCS_DIR": str(scratch / "docs")})
    source = ctx.data_sources.add_or_update_pandas(DATASOURCE)
    for table in TABLES:
        asset = next((a for a in source.assets if a.name == table), None) \
            or source.add_dataframe_asset(table)
        batch = next((b for b in asset.batch_definitions if b.name == BATCH), None) \
            or asset.add_batch_definition_whole_dataframe(BATCH)
        suite = ctx.suites.get(table)
        vd = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=table, data=batch, suite=suite))
        ctx.checkpoints.add_or_update(gx.Checkpoint(
            name=table, validation_definitions=[vd], result_format=RESULT_FORMAT,
            actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE])]))
    readable_suites(project_root)
    print(f"bootstrapped {project_root}: {', '.join(TABLES)}")


def readable_suites(project_root: Path) -> None:
    """GX writes suites with \\u escapes; rewrite them as UTF-8 so reviewers can read the Chinese."""
    import json
    for path in sorted((project_root / "gx" / "expectations").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    bootstrap(root)
