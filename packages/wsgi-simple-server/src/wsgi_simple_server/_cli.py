"""The command line: ``wsgi-simple-server [module:app] [options]``.

Every field of ``ServerConfig`` is an option (``threads`` is ``--threads``, a switch
such as ``access_log`` is ``--access-log``/``--no-access-log``) and an environment
variable (``WSGI_SIMPLE_SERVER_THREADS``), generated from the dataclass: its type from
the annotation, its help from the class docstring's ``:param:`` entries, its unit from
the name (``_s`` seconds, ``_bytes`` bytes). An option wins over a variable, a
variable over the default. ``ALIASES`` lists the names gunicorn and uvicorn give the
same settings. A mistake of the user (a bad value, a module that does not import, a
port in use) ends the program with one line on stderr and exit status 2.

The application is imported by ``_app_loader``, the listening sockets are opened by
``_listen_cli`` (``--bind``, systemd, SIGHUP), and ``--reload`` runs through ``_reloader``;
``--workers N`` runs gunicorn's arbiter (``workers.run_arbiter``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import importlib.metadata
import json
import logging
import logging.config
import math
import os
import platform
import re
import signal
import socket
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePath
from types import FrameType

from wsgi_util.types import WSGIApplication

from wsgi_simple_server._app_loader import AppLoadError, load_app, one_line
from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import as_tls
from wsgi_simple_server._demo import demo_app
from wsgi_simple_server._listen_cli import (
    add_listener_arguments,
    restart_on_sighup,
    server_from_args,
    serving_message,
)
from wsgi_simple_server._listeners import is_unix
from wsgi_simple_server._reloader import (
    exit_with_parent,
    inherited_listeners,
    is_reloader_child,
    run_reloader,
)
from wsgi_simple_server._server import WSGIServer

__all__ = [
    "ALIASES",
    "ENV_PREFIX",
    "Command",
    "UsageError",
    "load_app",
    "main",
    "parse_command",
    "read_settings",
    "settings_table",
]

DISTRIBUTION = "wsgi-simple-server"
ENV_PREFIX = "WSGI_SIMPLE_SERVER_"

# The names gunicorn and uvicorn give the same settings, accepted as aliases (the
# field's own option is the one documented first).
ALIASES: dict[str, tuple[str, ...]] = {
    # (Not gunicorn --limit-request-line: it counts the line without its CRLF, and 0
    # means unlimited; the gunicorn worker converts it, see workers.server_config.)
    # gunicorn --limit-request-fields (its 0, "unlimited", is refused here)
    "max_header_count": ("--limit-request-fields",),
    # gunicorn --worker-connections: the most simultaneous clients
    "max_connections": ("--worker-connections",),
    # gunicorn --keep-alive, uvicorn --timeout-keep-alive: the wait for the next request
    "idle_timeout_s": ("--keep-alive", "--timeout-keep-alive"),
    # gunicorn --graceful-timeout, uvicorn --timeout-graceful-shutdown; and this
    # command's own earlier name
    "shutdown_timeout_s": (
        "--graceful-timeout",
        "--timeout-graceful-shutdown",
        "--shutdown-timeout",
    ),
    # gunicorn --proxy-allow-from: the peers that may send a PROXY protocol header
    "proxy_allow_ips": ("--proxy-allow-from",),
    # gunicorn --access-logformat: the access line's format, in gunicorn's atoms
    "access_log_format": ("--access-logformat",),
}

_UNITS = {"_s": "seconds", "_bytes": "bytes"}
_KINDS: dict[object, str] = {int: "n", int | None: "n", float: "number", float | None: "number"}
_KINDS |= {str: "text", str | None: "text", tuple[str, ...]: "list"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

_log = logging.getLogger("wsgi_simple_server")


class UsageError(Exception):
    """A mistake of the user's: reported as one line, exit status 2."""


# -- the settings, generated from ServerConfig ----------------------------------------


@dataclasses.dataclass(frozen=True)
class _Setting:
    """One ``ServerConfig`` field as the command line knows it."""

    name: str
    option: str  # --max-body-bytes
    aliases: tuple[str, ...]
    variable: str  # WSGI_SIMPLE_SERVER_MAX_BODY_BYTES
    convert: Callable[[str], object]  # raises ValueError("must be ..., got ...")
    is_switch: bool
    kind: str  # what the value is: n, number, text, list (comma-separated), value
    default: object
    unit: str | None
    summary: str


def _docstring_params(doc: str) -> dict[str, str]:
    """The ``:param name: text`` entries of a docstring, each text on one line."""
    entries = re.findall(r":param (\w+):(.*?)(?=\n\s*:param |\n\s*\n|\Z)", doc, re.DOTALL)
    return {name: " ".join(text.split()).replace("``", "`") for name, text in entries}


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.])(?:\s|$)", text)
    return (match.group(1) if match else text).rstrip(".")


def _to_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"must be true or false (1/0, yes/no, on/off), got {raw!r}")


def _to_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"must be an integer, got {raw!r}") from None


def _to_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"must be a number, got {raw!r}")
    return value


def _converter(hint: object) -> Callable[[str], object]:
    """Parse a value of the type *hint* from text (raise ``TypeError`` for a type without one)."""
    simple: dict[object, Callable[[str], object]] = {
        bool: _to_bool,
        int: _to_int,
        float: _to_float,
        str: str,
    }
    if hint in simple:
        return simple[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        (inner_hint,) = (arg for arg in args if arg is not type(None))
        inner = _converter(inner_hint)
        # An empty value leaves an optional setting unset.
        return lambda raw: None if raw == "" else inner(raw)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _converter(args[0])
        return lambda raw: tuple(item(part.strip()) for part in raw.split(",") if part.strip())
    raise TypeError(f"no command-line form for the type {hint!r}")


def _settings() -> list[_Setting]:
    hints = typing.get_type_hints(ServerConfig)
    docs = _docstring_params(ServerConfig.__doc__ or "")
    settings = []
    for field in dataclasses.fields(ServerConfig):
        try:
            convert = _converter(hints[field.name])
        except TypeError as exc:
            raise TypeError(f"ServerConfig.{field.name}: {exc}") from None
        unit = next((u for suffix, u in _UNITS.items() if field.name.endswith(suffix)), None)
        settings.append(
            _Setting(
                name=field.name,
                option="--" + field.name.replace("_", "-"),
                aliases=ALIASES.get(field.name, ()),
                variable=ENV_PREFIX + field.name.upper(),
                convert=convert,
                is_switch=hints[field.name] is bool,
                kind=_KINDS.get(hints[field.name], "value"),
                default=field.default
                if field.default_factory is dataclasses.MISSING
                else field.default_factory(),
                unit=unit,
                summary=_first_sentence(docs.get(field.name, field.name.replace("_", " "))),
            )
        )
    return settings


SETTINGS = _settings()


def _shown(setting: _Setting) -> str:
    """The default as it is written on the command line, with its unit."""
    value = setting.default
    if value is None:
        return "unset"
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return f"{text} {setting.unit}" if setting.unit else text


def settings_table() -> str:
    """The settings as a Markdown table: option, aliases, variable, default, unit, meaning."""
    rows = [
        "| setting | option | environment variable | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        options = (
            f"`{setting.option}`, `--no-{setting.option[2:]}`"
            if setting.is_switch
            else f"`{setting.option}`"
        )
        options += "".join(f", `{alias}`" for alias in setting.aliases)
        rows.append(
            f"| `{setting.name}` | {options} | `{setting.variable}` | {_shown(setting)}"
            f" | {setting.summary} |"
        )
    rows.append(_WORKERS_ROW)
    return "\n".join(rows) + "\n"


# -- parsing the command line ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Command:
    """What the command line asks for: the application, the address, the settings."""

    app: str | None
    factory: bool
    app_dir: str
    host: str
    port: int
    config: ServerConfig
    reload: bool
    reload_dirs: tuple[str, ...]
    reload_includes: tuple[str, ...]
    reload_excludes: tuple[str, ...]
    log_config: str | None
    log_level: str | None
    argv: tuple[str, ...]  # as given, for the server process a reloader starts
    listen_args: argparse.Namespace  # --bind, --uds, --fd, --uds-mode (_listen_cli)
    workers: int = 1  # processes: more than one runs gunicorn's arbiter (_serve_workers)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{message} (see --help)")


class _SetField(argparse.Action):
    """Store a field's value, converted, with the option that set it (for errors)."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, *, setting: _Setting, **kwargs: typing.Any
    ) -> None:
        self.setting = setting
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[typing.Any] | None,
        option_string: str | None = None,
    ) -> None:
        source = option_string or self.setting.option
        if self.setting.is_switch:
            value: object = not source.startswith("--no-")
        else:
            try:
                value = self.setting.convert(str(values))
            except ValueError as exc:
                raise UsageError(f"{source} {exc}") from None
        namespace.fields[self.setting.name] = (value, source)


def _version() -> str:
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "(not installed)"
    return (
        f"{DISTRIBUTION} {version} ({platform.python_implementation()} {platform.python_version()})"
    )


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith(DISTRIBUTION) else "python -m wsgi_simple_server"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        allow_abbrev=False,  # --thread is a typo, not --threads (and stays one as options come)
        usage="%(prog)s [module:app] [options]",
        description="Serve a WSGI application over HTTP/1.1 (demo_app when none is named).",
        epilog=f"Each setting is also read from the environment variable shown; an option "
        f"wins over a variable. Variables: {ENV_PREFIX}<SETTING>, and {ENV_PREFIX}HOST, "
        f"{ENV_PREFIX}PORT.",
    )
    parser.add_argument("--version", action="version", version=_version())
    app = parser.add_argument_group("application")
    app.add_argument(
        "app",
        nargs="?",
        help="module:name, module:name.attr, module (module:application), or a factory "
        "call module:create_app() / module:create_app('arg', key=1) with literal arguments",
    )
    app.add_argument(
        "--factory",
        action="store_true",
        help="call the named object with no arguments to get the application",
    )
    app.add_argument(
        "--app-dir", default=".", help="directory put first on sys.path to import from (default: .)"
    )
    listen = parser.add_argument_group("listening")
    listen.add_argument(
        "--host", help=f"address to listen on, IPv4 or IPv6 (default: 127.0.0.1; {ENV_PREFIX}HOST)"
    )
    listen.add_argument(
        "--port", help=f"TCP port, 0 for any free one (default: 8000; {ENV_PREFIX}PORT)"
    )
    add_listener_arguments(parser)
    _add_workers_argument(parser)
    server = parser.add_argument_group(
        "server settings", "The fields of ServerConfig, each also an environment variable."
    )
    for setting in SETTINGS:
        help_text = f"{setting.summary} (default: {_shown(setting)}; {setting.variable})"
        help_text = help_text.replace("%", "%%")
        if setting.is_switch:
            names = [setting.option, f"--no-{setting.option[2:]}", *setting.aliases]
            server.add_argument(*names, action=_SetField, nargs=0, setting=setting, help=help_text)
        else:
            server.add_argument(
                setting.option,
                *setting.aliases,
                action=_SetField,
                setting=setting,
                metavar=(setting.unit or setting.kind).upper(),
                help=help_text,
            )
    dev = parser.add_argument_group("development")
    dev.add_argument(
        "--reload",
        action="store_true",
        help="restart the server when a watched file changes (needs wsgi-simple-server[reload])",
    )
    dev.add_argument(
        "--reload-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="directory to watch, repeatable (default: the --app-dir)",
    )
    dev.add_argument(
        "--reload-include",
        action="append",
        default=[],
        metavar="GLOB",
        help="file names to watch besides *.py, repeatable",
    )
    dev.add_argument(
        "--reload-exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="file names not to watch (*.py too), repeatable",
    )
    logs = parser.add_argument_group("logging")
    logs.add_argument(
        "--log-config",
        metavar="FILE",
        help="logging configuration: .json or .yaml (dictConfig), .ini or .conf (fileConfig)",
    )
    logs.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        type=str.lower,  # DEBUG too, as gunicorn takes it
        help="level of the wsgi_simple_server logger (default: info)",
    )
    return parser


def _blame(message: str, fields: Mapping[str, tuple[object, str]]) -> str:
    """*message* (``ServerConfig``'s) naming the option or variable at fault.

    A message that begins with a field's name gets its option or variable in its
    place; else the first field that is refused alone too is named before it. A field
    the message says is needed (``it needs certfile``) is named as the one at fault
    is: ``--certfile``, or ``WSGI_SIMPLE_SERVER_CERTFILE`` after a variable.
    """
    match = re.match(r"(\w+)\b", message)
    if match and match.group(1) in fields:
        source = fields[match.group(1)][1]
        return _name_needed(source + message[match.end() :], source)
    for name, (value, source) in fields.items():
        try:
            ServerConfig(**{name: value})  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _name_needed(f"{source}: {message}", source)
    return message


def _name_needed(message: str, source: str) -> str:
    by_name = {setting.name: setting for setting in SETTINGS}

    def name(match: re.Match[str]) -> str:
        setting = by_name.get(match.group(1))
        if setting is None:
            return match.group(0)
        return "needs " + (setting.option if source.startswith("--") else setting.variable)

    return re.sub(r"\bneeds (\w+)\b", name, message)


def _port(raw: str, source: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise UsageError(f"{source} must be a port number from 0 to 65535, got {raw!r}")
    return port


def read_settings(
    argv: Sequence[str], environ: Mapping[str, str], *, prog: str | None = None
) -> tuple[argparse.Namespace, dict[str, tuple[object, str]]]:
    """Parse *argv* and read the ``WSGI_SIMPLE_SERVER_*`` variables of *environ*.

    Return the parsed arguments and, for each ``ServerConfig`` field that an option or
    a variable sets, its value and the option or variable that set it (options win).
    The values are converted to the field's type but not checked by ``ServerConfig``;
    a variable whose field an option sets is not read. Raise ``UsageError`` for an
    unknown option (abbreviations are not taken).
    """
    fields: dict[str, tuple[object, str]] = {}
    parser = _parser(prog or _prog())
    args, unknown = parser.parse_known_args(list(argv), argparse.Namespace(fields=fields))
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)} ({_hint(parser, unknown)})")
    for setting in SETTINGS:
        raw = environ.get(setting.variable)
        if raw is not None and setting.name not in fields:  # an option wins: not read
            try:
                fields[setting.name] = (setting.convert(raw), setting.variable)
            except ValueError as exc:
                raise UsageError(f"{setting.variable} {exc}") from None
    return args, fields


def _hint(parser: argparse.ArgumentParser, unknown: Sequence[str]) -> str:
    """``did you mean --threads?`` for the first unknown option near one, else ``see --help``."""
    options = list(parser._option_string_actions)  # argparse has no public list of them
    for word in unknown:
        if word.startswith("--"):
            close = difflib.get_close_matches(word.partition("=")[0], options, n=1, cutoff=0.75)
            if close:
                return f"did you mean {close[0]}?"
    return "see --help"


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A warning for each ``WSGI_SIMPLE_SERVER_*`` variable of *environ* that is no
    setting (a typo, or a setting of another version): it is ignored, but said so."""
    known = [setting.variable for setting in SETTINGS]
    known += [ENV_PREFIX + name for name in ("HOST", "PORT", "WORKERS")]
    warnings = []
    for name in sorted(environ):
        if name.upper().startswith(ENV_PREFIX) and name not in known:
            suffixes = [variable.removeprefix(ENV_PREFIX) for variable in known]
            close = difflib.get_close_matches(name.upper()[len(ENV_PREFIX) :], suffixes, n=1)
            hint = (
                f"did you mean {ENV_PREFIX}{close[0]}?"
                if close
                else "the variables are listed in --help"
            )
            warnings.append(f"ignoring {name}: it is not a setting ({hint})")
    return warnings


def parse_command(
    argv: Sequence[str], environ: Mapping[str, str], *, prog: str | None = None
) -> Command:
    """Read the command line *argv* and the environment *environ* into a ``Command``.

    Options win over ``WSGI_SIMPLE_SERVER_*`` variables, variables over defaults.
    Raise ``UsageError`` (its message names the option or variable) for a bad value.
    """
    args, fields = read_settings(argv, environ, prog=prog)
    try:
        config = ServerConfig(**{name: value for name, (value, _) in fields.items()})  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise UsageError(_blame(str(exc), fields)) from None
    if args.port is not None:
        port = _port(args.port, "--port")
    elif (raw_port := environ.get(ENV_PREFIX + "PORT")) is not None:
        port = _port(raw_port, ENV_PREFIX + "PORT")
    else:
        port = 8000
    if args.host is not None:
        host, host_source = args.host, "--host"
    else:
        host_source = ENV_PREFIX + "HOST"
        host = environ.get(host_source, "127.0.0.1")
    if not host.strip():
        # An empty address means every interface to socket.bind: never by accident (an
        # unset variable in a compose file), only when written as 0.0.0.0 or ::.
        raise UsageError(
            f"{host_source} is empty; write 0.0.0.0 (or ::) to listen on every interface"
        )
    if host.startswith("[") and host.endswith("]"):  # [::1], as in a URL or --bind
        host = host[1:-1]
    return Command(
        app=args.app,
        factory=args.factory,
        app_dir=args.app_dir,
        host=host,
        port=port,
        config=config,
        reload=args.reload,
        reload_dirs=tuple(args.reload_dir) or (args.app_dir,),
        # As uvicorn's: added to *.py (which --reload-exclude '*.py' takes away).
        reload_includes=tuple(dict.fromkeys(["*.py", *args.reload_include])),
        reload_excludes=tuple(args.reload_exclude),
        log_config=args.log_config,
        log_level=args.log_level,
        argv=tuple(argv),
        listen_args=args,
        workers=_workers(args.workers, environ),
    )


# -- logging --------------------------------------------------------------------------


def _configure_logging(command: Command) -> None:
    if command.log_config is not None:
        _load_log_config(command.log_config)
    elif not _log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter(
                "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S %z"
            )
        )
        _log.addHandler(handler)
        _log.propagate = False
        _log.setLevel(logging.INFO)
    if command.log_level is not None:
        _log.setLevel(command.log_level.upper())


def _load_log_config(path: str) -> None:
    """Apply a logging configuration file (raise ``UsageError`` if it cannot be)."""
    suffix = PurePath(path).suffix.lower()
    if suffix not in (".json", ".yaml", ".yml", ".ini", ".conf", ".cfg"):
        raise UsageError(
            f"--log-config {path}: the file name must end in .json, .yaml, .yml, .ini or .conf"
        )
    try:
        if suffix in (".ini", ".conf", ".cfg"):
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no such file: {path!r}")
            logging.config.fileConfig(path, disable_existing_loggers=False)
            return
        with open(path, encoding="utf-8") as file:
            if suffix == ".json":
                settings = json.load(file)
            else:
                try:
                    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - optional
                except ImportError:
                    raise UsageError(
                        f"--log-config {path}: reading YAML needs PyYAML"
                        " (python -m pip install pyyaml)"
                    ) from None
                settings = yaml.safe_load(file)
        if not isinstance(settings, dict):
            raise ValueError("the file does not hold a mapping")
        settings.setdefault("disable_existing_loggers", False)
        logging.config.dictConfig(settings)
    except UsageError:
        raise
    except Exception as exc:  # OSError, JSON, YAML, configparser and dictConfig errors
        raise UsageError(f"--log-config {path}: {_causes(exc)}") from None


def _causes(exc: BaseException) -> str:
    """*exc* and the exceptions that caused it, in one line: dictConfig's ``Unable to
    configure handler 'file'`` says why only in its cause (``No such file ...``)."""
    parts: list[str] = []
    current: BaseException | None = exc
    for _ in range(5):  # a chain of causes can be a cycle
        if current is None or len(parts) == 3:
            break
        text = one_line(str(current))
        if not text or isinstance(current, KeyError):  # KeyError: 'formatters'
            text = f"{type(current).__name__}: {text}".rstrip(": ")
        if not any(text in part for part in parts):  # said already, as its cause's text
            parts.append(text)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return ": ".join(parts)


# -- serving --------------------------------------------------------------------------


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _url(sock: socket.socket) -> str:
    """Where a browser reaches *sock*: ``http://127.0.0.1:8000/``, or ``unix:PATH``."""
    address = sock.getsockname()
    if is_unix(sock):
        return f"unix:{address}"
    scheme = "https" if as_tls(sock) is not None else "http"
    return f"{scheme}://{_host_port(address[0], address[1])}/"


def _server(command: Command, app: WSGIApplication) -> WSGIServer:
    """The server: on the sockets a reloader handed on, else where the command says."""
    inherited = inherited_listeners()
    if inherited is None:
        return server_from_args(
            command.listen_args, app, command.config, host=command.host, port=command.port
        )
    server = WSGIServer.from_listeners(inherited, config=command.config)
    server.set_app(app)
    exit_with_parent(server)
    return server


def _check_directories(command: Command) -> None:
    """Raise ``UsageError`` naming ``--app-dir`` or a ``--reload-dir`` that is no directory."""
    directories = [("--app-dir", command.app_dir)]
    if command.reload:
        directories += [("--reload-dir", directory) for directory in command.reload_dirs]
    for option, directory in directories:
        if not os.path.isdir(directory):
            raise UsageError(f"{option} {directory}: no such directory")


# gunicorn's arbiter's signals that one process has no use for, and why. By default
# SIGTTIN and SIGTTOU would stop (suspend) the process and SIGUSR1 would end it: a
# `kill -TTIN` meant for --workers, or logrotate's `kill -USR1`, must not.
_ARBITER_SIGNALS = {
    "SIGTTIN": "one process has no worker processes to add (--workers runs several)",
    "SIGTTOU": "one process has no worker processes to remove (--workers runs several)",
    "SIGUSR1": "one process opens no log file to reopen (with --log-config, a"
    " WatchedFileHandler reopens its file when it is rotated)",
}


def _ignore_arbiter_signals() -> None:
    """Have the signals of ``_ARBITER_SIGNALS`` logged as ignored (where they exist)."""

    def ignored(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        _log.warning("%s ignored: %s", name, _ARBITER_SIGNALS[name])

    for name in _ARBITER_SIGNALS:
        if (signum := getattr(signal, name, None)) is not None:
            signal.signal(signum, ignored)


def _serve(command: Command) -> int:
    under_reloader = is_reloader_child()  # asked before _server takes the sockets over
    if hasattr(signal, "pthread_sigmask") and hasattr(signal, "SIGHUP"):
        # A reload asked for while the application imports (systemctl reload just
        # after start) waits for restart_on_sighup's handler, which unblocks it,
        # instead of ending the process (SIGHUP's default action).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    if command.app:
        sys.path.insert(0, os.path.abspath(command.app_dir))
        app = load_app(command.app, factory=command.factory)
    else:
        app = demo_app
    server = _server(command, app)
    stopping = False
    with server, restart_on_sighup(server):

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            name = signal.Signals(signum).name
            if stopping:  # as gunicorn's and uvicorn's second Ctrl-C
                _log.warning("%s again: exiting now, cutting off the requests in flight", name)
                for handler in logging.getLogger().handlers + _log.handlers:
                    handler.flush()
                # No unwinding: serve_forever would wait for the requests in flight
                # again. A Unix socket file left behind is removed by the next start.
                os._exit(128 + signum)
            stopping = True
            _log.info(
                "%s: stopping (requests in flight get %g s; %s again to stop at once)",
                name,
                command.config.shutdown_timeout_s,
                name,
            )
            server.request_shutdown()

        signal.signal(signal.SIGTERM, stop)
        # Under --reload a Ctrl-C reaches the reloader too, which stops this process
        # with SIGTERM: that is the one stop (not a second signal that cuts it short).
        signal.signal(signal.SIGINT, signal.SIG_IGN if under_reloader else stop)
        _ignore_arbiter_signals()
        _log.info(
            "%s: application %s, %d worker threads, %s event loop",
            _version(),
            command.app or "wsgi_simple_server:demo_app",
            command.config.threads,
            command.config.selector_class().__name__,
        )
        _log.info("listening at %s", ", ".join(map(_url, server.sockets)))
        _print_serving(server)
        server.serve_forever()
    return 0


def _print_serving(server: WSGIServer) -> None:
    """Print the serving line on stdout, as http.server does (scripts wait for it).

    A stdout that cannot be written (a pipe its reader closed, a full disk) does not
    stop the server: it is logged, and stdout goes to the null device from then on.
    """
    try:
        print(serving_message(server), flush=True)
    except OSError as exc:
        _log.warning("cannot write to stdout (%s): serving anyway", exc.strerror or exc)
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def _reload(command: Command) -> int:
    try:
        import watchfiles  # noqa: F401, PLC0415 - optional: here to say so, used by run_reloader
    except ImportError:
        raise UsageError(
            "--reload needs the watchfiles package:"
            " python -m pip install 'wsgi-simple-server[reload]'"
        ) from None
    if os.name == "nt":
        raise UsageError("--reload needs a POSIX system (it hands the listening sockets on)")
    listener = server_from_args(
        command.listen_args, demo_app, command.config, host=command.host, port=command.port
    )
    with listener:
        return run_reloader(
            listener,
            [sys.executable, "-m", "wsgi_simple_server", *command.argv],
            dirs=command.reload_dirs,
            includes=command.reload_includes,
            excludes=command.reload_excludes,
            stop_timeout_s=command.config.shutdown_timeout_s + 5,
        )


# -- several processes: --workers -----------------------------------------------------

_WORKERS_HELP = (
    "worker processes; more than 1 runs gunicorn's arbiter with the ThreadedWorker class,"
    " each process serving with these settings (needs wsgi-simple-server[gunicorn])"
)
_WORKERS_ROW = f"| `workers` | `--workers` | `{ENV_PREFIX}WORKERS` | 1 | {_WORKERS_HELP} |"


def _add_workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("processes").add_argument(
        "--workers", metavar="N", help=f"{_WORKERS_HELP} (default: 1; {ENV_PREFIX}WORKERS)"
    )


def _workers(raw: str | None, environ: Mapping[str, str]) -> int:
    """The number of worker processes: ``--workers``, else the variable, else 1."""
    source = "--workers"
    if raw is None:
        source = ENV_PREFIX + "WORKERS"
        raw = environ.get(source)
        if raw is None:
            return 1
    try:
        workers = _to_int(raw)
    except ValueError as exc:
        raise UsageError(f"{source} {exc}") from None
    if workers < 1:
        raise UsageError(f"{source} must be a positive number, got {workers}")
    return workers


def _serve_workers(command: Command) -> int:
    """``--workers N`` (N > 1): gunicorn's arbiter in this process (``workers.run_arbiter``)."""
    if command.reload:
        raise UsageError("--reload runs one server process: it cannot be combined with --workers")
    if os.name == "nt":
        raise UsageError("--workers needs a POSIX system (gunicorn's arbiter forks)")
    try:
        import gunicorn  # noqa: F401, PLC0415 - optional: here to say so, used by run_arbiter
    except ImportError:
        raise UsageError(
            "--workers needs the gunicorn extra: pip install 'wsgi-simple-server[gunicorn]'"
        ) from None
    from wsgi_simple_server.workers import run_arbiter  # noqa: PLC0415 - needs gunicorn

    return run_arbiter(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (*argv* defaults to ``sys.argv[1:]``); return the exit status.

    Serve until SIGTERM or SIGINT, then stop gracefully and return 0 (with
    ``--workers N`` the signals are those of gunicorn's arbiter). A mistake of the
    user's is one line on stderr and status 2.
    """
    prog = _prog()
    try:
        command = parse_command(sys.argv[1:] if argv is None else argv, os.environ, prog=prog)
        _configure_logging(command)
        _check_directories(command)
        if not is_reloader_child():  # the reloader said it
            for warning in _unknown_variables(os.environ):
                _log.warning("%s", warning)
        if command.workers > 1:
            return _serve_workers(command)
        if command.reload and not is_reloader_child():
            return _reload(command)
        return _serve(command)
    except (UsageError, AppLoadError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before the handlers are set (a slow import, say)
        print(f"{prog}: interrupted while starting", file=sys.stderr)
        return 128 + signal.SIGINT
