"""The notebook's client-mode SparkSession builder, and what the platform does with each setting.

In a notebook, the builder says where Spark runs (``.master("k8s://...")``, the driver host, the
image, the namespace, the service account) and how big the executors are. In a scheduled job the
platform decides where (its operator sets the master, the image by digest, the identity and
the pods), so the job's builder keeps only the application name, and the sizes and the other
Spark settings become the operator's arguments.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from sparkplane.kubernetes.task_policy import reserved_conf_problems

#: Client-mode settings with no meaning in a scheduled run (the operator's reserved ones aside).
_CLIENT_MODE_ONLY = ("spark.driver.bindAddress", "spark.submit.", "spark.jars.ivy")


def platform_owned(key: str) -> bool:
    """Whether the platform's operator sets ``key`` itself in a scheduled run (the same table that
    refuses it in a task's conf), or it only means something to a notebook's driver."""
    return key.startswith(_CLIENT_MODE_ONLY) or bool(reserved_conf_problems({key: ""}))


#: Spark settings that are the operator's own arguments.
OPERATOR_ARGUMENTS = {
    "spark.executor.instances": "executor_instances",
    "spark.executor.memory": "executor_memory",
    "spark.executor.cores": "executor_cores",
    "spark.driver.memory": "driver_memory",
}
_WHOLE_NUMBER_ARGUMENTS = ("executor_instances", "executor_cores")


@dataclass(frozen=True)
class SessionBuilder:
    """A ``name = SparkSession.builder....getOrCreate()`` statement and what its settings become.

    :param variable: the session's name in the notebook (``spark``).
    :param first_line: first line of the statement in its cell (from 1).
    :param last_line: last line of the statement in its cell.
    :param app_name: the ``appName`` given, if a literal.
    :param operator_arguments: operator argument -> value (executor sizes).
    :param conf: the other Spark settings, for the operator's ``conf``.
    :param dropped: settings the platform owns, as written (``master``, ``spark.kubernetes.namespace``).
    :param problems: calls of the builder that could not be read (non-literal settings).
    """

    variable: str
    first_line: int
    last_line: int
    app_name: str | None = None
    operator_arguments: dict[str, str | int] = field(default_factory=dict)
    conf: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    builder: str = "SparkSession.builder"

    def job_statement(self, default_app_name: str) -> str:
        """The job's builder: the application name only; the platform supplies the rest."""
        return f"{self.variable} = {self.builder}.appName({(self.app_name or default_app_name)!r}).getOrCreate()"


def find_session_builder(source: str) -> SessionBuilder | None:
    """Return the first top-level ``X = SparkSession.builder...getOrCreate()`` of ``source``, or
    ``X = client_session(...)`` (the platform's notebook session), if any."""
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
            chain = _builder_chain(statement.value)
            if chain is not None:
                return _read_builder(statement.targets[0].id, statement, *chain)
            if _is_client_session_call(statement.value):
                return _read_client_session(statement.targets[0].id, statement, statement.value)
    return None


#: ``client_session`` arguments that become the operator's.
_CLIENT_SESSION_ARGUMENTS = {"executors": "executor_instances", "executor_memory": "executor_memory",
                             "executor_cores": "executor_cores"}  # fmt: skip


def _is_client_session_call(expression: ast.expr) -> bool:
    if not isinstance(expression, ast.Call):
        return False
    function = expression.func
    return (isinstance(function, ast.Name) and function.id == "client_session") or (
        isinstance(function, ast.Attribute) and function.attr == "client_session"
    )


def _read_client_session(variable: str, statement: ast.stmt, call: ast.Call) -> SessionBuilder:
    """``client_session(name, image=..., executors=2, conf={...})``: the same split as a builder's."""
    app_name = _literal(call.args[0]) if call.args else None
    operator_arguments: dict[str, str | int] = {}
    conf: dict[str, str] = {}
    dropped: list[str] = []
    problems: list[str] = []
    for keyword in call.keywords:
        value = _literal(keyword.value)
        if keyword.arg in _CLIENT_SESSION_ARGUMENTS and value is not None:
            operator_arguments[_CLIENT_SESSION_ARGUMENTS[keyword.arg]] = value if isinstance(value, int) else str(value)
        elif keyword.arg == "conf" and isinstance(value, dict):
            conf.update({str(key): _conf_value(setting) for key, setting in value.items()
                         if not platform_owned(str(key))})  # fmt: skip
        elif keyword.arg in ("app_name",) and isinstance(value, str):
            app_name = value
        elif keyword.arg in ("image", "notebook", "kubeconfig", "driver_host", "check"):
            dropped.append(f"client_session {keyword.arg}")
        else:
            problems.append(f"client_session({keyword.arg}={ast.unparse(keyword.value)}) is not a literal setting; "
                            "set it in the DAG by hand")  # fmt: skip
    return SessionBuilder(variable, statement.lineno, statement.end_lineno or statement.lineno,
                          app_name if isinstance(app_name, str) else None, operator_arguments, conf,
                          tuple(dropped), tuple(problems))  # fmt: skip


def _builder_chain(expression: ast.expr) -> tuple[str, list[ast.Call]] | None:
    """The builder as written and the chain's calls in order, when ``expression`` is
    ``SparkSession.builder.a(..).b(..).getOrCreate()``."""
    calls: list[ast.Call] = []
    node = expression
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        calls.append(node)
        node = node.func.value
    is_builder = isinstance(node, ast.Attribute) and node.attr == "builder" and ast.unparse(node.value).endswith("SparkSession")
    if not is_builder or not calls or calls[0].func.attr != "getOrCreate":
        return None
    return ast.unparse(node), list(reversed(calls))[:-1]


def _read_builder(variable: str, statement: ast.stmt, builder: str, calls: list[ast.Call]) -> SessionBuilder:
    app_name = None
    settings: dict[str, str] = {}
    dropped: list[str] = []
    problems: list[str] = []
    for call in calls:
        method = call.func.attr
        literals = [_literal(argument) for argument in call.args]
        if method == "appName" and literals and isinstance(literals[0], str):
            app_name = literals[0]
        elif method == "master":
            dropped.append(f"master({ast.unparse(call.args[0]) if call.args else ''})")
        elif method == "config" and len(literals) == 2 and isinstance(literals[0], str) and platform_owned(literals[0]):
            dropped.append(literals[0])  # whatever its value: the platform sets it
        elif method == "config" and len(literals) == 2 and isinstance(literals[0], str) and literals[1] is not None:
            settings[literals[0]] = _conf_value(literals[1])
        elif method == "enableHiveSupport":
            settings["spark.sql.catalogImplementation"] = "hive"
        else:
            problems.append(f".{method}({', '.join(ast.unparse(a) for a in [*call.args, *call.keywords])}) is not a "
                            "literal setting; set it in the DAG's conf by hand")  # fmt: skip
    operator_arguments: dict[str, str | int] = {}
    conf: dict[str, str] = {}
    for key, value in settings.items():
        if key in OPERATOR_ARGUMENTS:
            argument = OPERATOR_ARGUMENTS[key]
            operator_arguments[argument] = int(value) if argument in _WHOLE_NUMBER_ARGUMENTS and value.isdigit() else value
        else:
            conf[key] = value
    return SessionBuilder(variable, statement.lineno, statement.end_lineno or statement.lineno, app_name,
                          operator_arguments, conf, tuple(dropped), tuple(problems), builder)  # fmt: skip


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _conf_value(value: object) -> str:
    """Spark's string form of a setting (``True`` is ``"true"``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)
