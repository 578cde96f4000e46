"""Where a job's command-line options get their values: the DAG params and run conf keys named in
the templates of ``application_args`` as the DAG wrote them. Pure, no I/O.

A job that rejects an option (argparse's usage error) was given a bad value by whoever ran the
DAG, not by the DAG's author: the fix names the param or conf key to correct, not the operator
argument the value passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_PARAM = re.compile(r"\bparams(?:\.(\w+)|\[\s*['\"]([^'\"]+)['\"]\s*\])")
_CONF = re.compile(r"\bdag_run\.conf(?:\.get\(\s*['\"]([^'\"]+)['\"]|\[\s*['\"]([^'\"]+)['\"]\s*\])")
#: argparse's words for the option it refuses: ``argument --lines: ...``, ``argument -l/--lines: ...``.
_ARGPARSE_OPTION = re.compile(r"\bargument (?P<options>-[\w/-]+)")


def argument_sources(arguments_as_written: Sequence[str]) -> dict[str, str]:
    """Return, for each option whose value is templated from params or the run's conf, where it comes from.

    ``["--lines", "{{ params.lines }}"]`` gives ``{"--lines": "the DAG param 'lines' ..."}``;
    ``--day={{ dag_run.conf['day'] }}`` gives ``{"--day": "the run's conf key 'day'"}``.
    """
    sources: dict[str, str] = {}
    for index, argument in enumerate(arguments_as_written):
        if not isinstance(argument, str) or not argument.startswith("-"):
            continue
        option, equals, inline = argument.partition("=")
        if equals:
            value = inline
        elif index + 1 < len(arguments_as_written) and isinstance(arguments_as_written[index + 1], str):
            value = arguments_as_written[index + 1]
        else:
            continue
        described = _describe_source(value)
        if described:
            sources[option] = described
    return sources


def _describe_source(template: str) -> str | None:
    params = [a or b for a, b in _PARAM.findall(template)]
    conf_keys = [a or b for a, b in _CONF.findall(template)]
    said = [f"the DAG param '{name}' (a triggered run's conf key '{name}')" for name in params]
    said += [f"the run's conf key '{key}'" for key in conf_keys]
    return " and ".join(said) or None


def rejected_option_fix(argparse_message: str, sources: Mapping[str, str]) -> str | None:
    """Return the fix for an option argparse refused, naming where its value came from; None if unknown."""
    match = _ARGPARSE_OPTION.search(argparse_message)
    if match is None:
        return None
    for option in match["options"].split("/"):
        if option in sources:
            return (f"{option} takes its value from {sources[option]}: run again with a value the job accepts "
                    "(the job's usage line is in the log above); retrying the same run cannot help.")  # fmt: skip
    return None
