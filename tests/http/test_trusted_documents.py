"""The mini-program's operations: the committed manifest matches the files, and every document is valid."""

from __future__ import annotations

import hashlib
import json

import pytest
from graphql import parse, validate

import cli
from schema import schema
from settings import ROOT

OPERATIONS = ROOT / "operations"
REQUIRED = {"Homepage", "StaffList", "DepartmentList", "RankingBoard", "ArticleList", "HealthRecord", "MyConsultOrders"}


def test_the_committed_manifest_is_the_hash_of_every_operation_file() -> None:
    files = {path.stem: path.read_text(encoding="utf-8") for path in OPERATIONS.glob("*.graphql")}
    assert set(files) >= REQUIRED
    manifest = json.loads((OPERATIONS / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == {hashlib.sha256(text.encode()).hexdigest(): text for text in files.values()}, (
        "run `python -m cli trusted-documents`"
    )


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.stem)
def test_every_operation_validates_against_the_production_schema(path: object) -> None:
    document = parse(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    assert validate(schema._schema, document) == []


def test_the_cli_writes_the_same_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    committed = (OPERATIONS / "manifest.json").read_text(encoding="utf-8")
    assert cli.main(["trusted-documents"]) == 0
    assert (OPERATIONS / "manifest.json").read_text(encoding="utf-8") == committed
    assert f"{len(list(OPERATIONS.glob('*.graphql')))} documents" in capsys.readouterr().out
