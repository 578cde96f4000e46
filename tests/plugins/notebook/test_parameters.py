"""The parameters cell as typed, bounded parameters, and the lines that cannot be parameters."""

from __future__ import annotations

from sparkplane.notebook.parameters import Parameter, parse_parameters


def test_types_come_from_the_values_and_bounds_from_the_comments():
    cell = (
        'run_date = "2026-11-30"  # last day (YYYY-MM-DD)\n'
        "days = 7  # days in the window, range 1..31\n"
        "threshold: float = 2  # range 0..10\n"
        'region = "all"  # one of: all, emea, amer\n'
        "dry_run = False\n"
    )
    parameters, problems = parse_parameters(cell)
    assert problems == []
    assert parameters == [
        Parameter("run_date", "date", "2026-11-30", "last day (YYYY-MM-DD)"),
        Parameter("days", "integer", 7, "days in the window", minimum=1, maximum=31),
        Parameter("threshold", "number", 2.0, "", minimum=0.0, maximum=10.0),
        Parameter("region", "string", "all", "", choices=("all", "emea", "amer")),
        Parameter("dry_run", "boolean", False),
    ]
    assert parameters[0].option == "--run-date"


def test_what_cannot_be_a_parameter_is_reported_by_line():
    cell = (
        "import os\n"
        "days = 40  # range 1..31\n"
        'root = os.environ["HOME"]\n'
        "sizes = [1, 2]\n"
        'mode = "fast"  # one of: slow, safe\n'
        'count: int = "3"\n'
    )
    parameters, problems = parse_parameters(cell)
    assert parameters == []
    assert [problem.line for problem in problems] == [1, 2, 3, 4, 5, 6]
    reasons = " | ".join(problem.reason for problem in problems)
    assert "outside its range 1..31" in reasons
    assert "root is computed" in reasons
    assert "sizes is a list" in reasons
    assert "not one of its choices" in reasons
    assert "'3' is not a int" in reasons
