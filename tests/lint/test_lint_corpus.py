"""The corpus: every expected finding is reported (recall) and nothing else (precision)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from loopbridge.lint import RULES, LintConfig, lint_paths

CORPUS = Path(__file__).resolve().parent / "corpus"
REPO = Path(__file__).resolve().parents[2]

#: Codes whose cases need configuration or file conditions a corpus file cannot carry, with
#: the test that covers each (a code must appear in the corpus or here).
COVERED_ELSEWHERE = {
    "LB109": "test_lint_cli.py::test_config_adds_blocking_names_and_safe_names",
    # learned from a package pip installs into a temp venv
    "LB203": "test_lint_libraries.py::"
             "test_forgotten_awaits_and_blocking_calls_learned_from_an_installed_package",
    "LB312": "test_lint_libraries.py::"
             "test_forgotten_awaits_and_blocking_calls_learned_from_an_installed_package",
    "LB903": "test_lint_cli.py::test_huge_file_is_one_finding_and_the_run_goes_on",
    "LB904": "test_lint_rules.py::test_unreadable_file_is_reported_not_raised",
    "LB905": "test_lint_rules.py::test_absurdly_nested_file_is_reported_not_raised",
    "LB906": "test_lint_rules.py::test_internal_error_in_one_file_is_reported_and_run_goes_on",
}


def _expected() -> dict[str, set[tuple[int, str]]]:
    table = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["findings"]
    return {path: {(int(item.split()[0]), item.split()[1]) for item in items}
            for path, items in table.items()}


def _lint_corpus() -> set[tuple[str, int, str]]:
    result = lint_paths([str(CORPUS)], LintConfig(root=str(CORPUS)))
    return {(Path(f.path).resolve().relative_to(CORPUS).as_posix(), f.line, f.code)
            for f in result.findings}


def test_corpus_precision_and_recall_are_perfect() -> None:
    expected = {(path, line, code) for path, items in _expected().items()
                for line, code in items}
    found = _lint_corpus()
    true_positive = expected & found
    precision = len(true_positive) / len(found) if found else 1.0
    recall = len(true_positive) / len(expected) if expected else 1.0
    assert (sorted(expected - found), sorted(found - expected)) == ([], [])
    assert precision == 1.0 and recall == 1.0


def test_every_corpus_file_has_an_expectation_entry() -> None:
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.py")}
    assert files == set(_expected())


def test_every_code_has_a_corpus_case_or_a_named_test() -> None:
    in_corpus = {code for items in _expected().values() for _, code in items}
    missing = set(RULES) - in_corpus - set(COVERED_ELSEWHERE)
    assert not missing, f"codes without a corpus case or test: {sorted(missing)}"
    here = Path(__file__).parent
    for code, ref in COVERED_ELSEWHERE.items():
        module, _, name = ref.partition("::")
        assert f"def {name}(" in (here / module).read_text(encoding="utf-8"), (code, ref)


def test_every_code_has_a_docs_entry_and_docs_name_no_unknown_code() -> None:
    docs = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")
    headed = set(re.findall(r"^###\s+(LB\d{3})\b", docs, flags=re.MULTILINE))
    assert set(RULES) - headed == set(), "codes without a docs entry"
    assert headed - set(RULES) == set(), "docs describe codes that do not exist"
    for code in RULES:
        section = docs.split(f"### {code}", 1)[1].split("\n### ", 1)[0]
        assert "```python" in section, f"{code} docs entry has no example"
        assert "Fix" in section, f"{code} docs entry does not say how to fix it"


def test_every_family_is_represented_in_both_positive_and_negative_files() -> None:
    expected = _expected()
    assert expected["negatives.py"] == set()
    assert expected["file_declared_latin1.py"] == set()
    families = {code[:3] for items in expected.values() for _, code in items}
    assert {"LB1", "LB2", "LB3", "LB4", "LB9"} <= families
