"""The JSON document for ``--format json``: one object per submission, the same fields for one or many."""

from __future__ import annotations

import json

from xent_grader.grading.results import Report

SCHEMA_VERSION = 1


def report_object(report: Report) -> dict:
    data = report.to_dict()
    data["full_marks"] = report.full_marks
    return data


def single_report_json(report: Report) -> str:
    return json.dumps({"schema_version": SCHEMA_VERSION, **report_object(report)}, indent=2)


def batch_json(reports: list[Report], summary: dict) -> str:
    document = {
        "schema_version": SCHEMA_VERSION,
        "submissions": [report_object(report) for report in reports],
        "summary": summary,
    }
    return json.dumps(document, indent=2)
