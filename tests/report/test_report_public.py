"""The report's public face: a sorted ``__all__`` of existing names, and the lint it builds on."""

from __future__ import annotations

from loopbridge import report
from loopbridge.report import _lintapi


def test_all_is_sorted_and_every_name_exists() -> None:
    assert report.__all__ == sorted(report.__all__)
    assert [name for name in report.__all__ if not hasattr(report, name)] == []
    assert report.FORMATS == ("html", "json", "text")


def test_unknown_format_is_refused_with_the_choices() -> None:
    built = report.build_report(["tests/report/corpus/shop/views.py"])
    try:
        report.render(built, "xml")
    except ValueError as exc:
        assert "html, json, text" in str(exc)
    else:  # pragma: no cover - the assertion is the point
        raise AssertionError("render() accepted an unknown format")


def test_the_lint_adapter_reads_the_lint_of_this_tree() -> None:
    # the report reads the lint only through _lintapi: its shapes must hold for the lint as it is
    config = _lintapi.LintConfig()
    naming = _lintapi.naming()
    name, is_package, root = naming.name("tests/report/corpus/shop/helpers.py")
    module, tree, text = _lintapi.index_file("tests/report/corpus/shop/helpers.py", name,
                                             is_package, config)
    assert tree.body and "fetch_rates" in text
    project = _lintapi.new_project(config, [root], naming)
    project.add(module)
    fn = project.functions[f"{name}.fetch_rates"]
    called = [_lintapi.called(project, site) for site in fn.calls]
    blocking = [c for c in called if c is not None and c.kind == "block"]
    assert [c.name for c in blocking] == ["requests.get"]
    assert blocking[0].entry is not None and blocking[0].entry.code == "LB101"
    assert _lintapi.meaning(project, ("n", f"{name}.fetch_rates")) == ("function",
                                                                       f"{name}.fetch_rates")
