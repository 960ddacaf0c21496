"""The docs say what the code does: links resolve, no path outside the repository, every command
line shown parses with the real CLI, every CELLWMS_* setting named exists and every one is named."""

import re
import shlex
from pathlib import Path

import click
import pytest

from server.cli import main as server_cli
from terminal.cli import main as station_cli

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Places on the machine the docs were written on, and the shared folder beside the repository.
OUTSIDE = re.compile(r"\.\./shared|\bshared/(?:bench|DESIGN)|/work/|/home/|/root/")
# Settings that are the tests' own, not the server's or the agent's.
TEST_SETTINGS = {"CELLWMS_UPDATE_GOLDEN", "CELLWMS_FUZZ_EXAMPLES", "CELLWMS_FUZZ_TALLY"}  # read by tests, not the server


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_relative_links_resolve(doc):
    broken = []
    for target in LINK.findall(_text(doc)):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert not broken, f"{_rel(doc)}: links that do not resolve inside the repository: {broken}"


@pytest.mark.parametrize("doc", DOCS, ids=_rel)
def test_no_path_outside_the_repository(doc):
    found = [(n, line.strip()) for n, line in enumerate(_text(doc).splitlines(), 1) if OUTSIDE.search(line)]
    assert not found, f"{_rel(doc)} names places outside the repository: {found}"


def test_outside_pattern_catches_what_it_should():
    assert OUTSIDE.search("format `../shared/bench/routing-instances.md`")
    assert OUTSIDE.search("see /work/shared/DESIGN.md")
    assert not OUTSIDE.search("[benchmarks](benchmarks.md), `/etc/cellwms/pack-1.env`")


# --- command lines ------------------------------------------------------------------------------

CODE_BLOCK = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`((?:cellwms|cellwms-station) [^`]+)`")


def _command_lines(text: str) -> list[tuple[str, bool]]:
    """(line, inline): a code block's lines are whole command lines; an inline one may only name
    a command (`cellwms user create`) without its arguments."""
    lines = []
    for block in CODE_BLOCK.findall(text):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if re.match(r"(cellwms|cellwms-station) ", line):
                lines.append((line, False))
    body = CODE_BLOCK.sub("", text).replace("\n", " ")
    lines += [(m, True) for m in INLINE.findall(body)]
    return lines


def _variants(line: str) -> list[list[str]]:
    """Argument lists a shown line stands for: `[--opt X]` both without and with, `a|b` each."""
    line = line.replace("...", "").strip()
    optional = re.findall(r"\[([^\[\]]+)\]", line)
    base = re.sub(r"\s*\[[^\[\]]+\]", "", line)
    full = re.sub(r"\[([^\[\]]+)\]", r"\1", line)
    out = []
    for variant in {base, full} if optional else {line}:
        words = shlex.split(variant)
        alternatives = [w.split("|") if "|" in w and not w.startswith(("-", "'", '"')) else [w] for w in words]
        width = max(len(a) for a in alternatives)
        for k in range(width):
            out.append([a[min(k, len(a) - 1)] for a in alternatives])
    return out


# Placeholders of numbers in the docs' command lines.
PLACEHOLDERS = {"N": "5", "S": "1", "ID": "1"}


def _existing(args: list[str], tmp: Path) -> list[str]:
    """File arguments the docs use as examples (skus.csv, i.jsonl) made as empty files, when the
    repository does not hold them: parsing checks they exist, not what they say."""
    out = []
    for arg in args:
        arg = PLACEHOLDERS.get(arg, arg)
        if arg == "FILE" or re.search(r"\.(csv|json|jsonl|toml|db|sqlite)$", arg) and not (ROOT / arg).exists():
            path = tmp / Path(arg).name
            path.touch()
            arg = str(path)
        out.append(arg)
    return out


def _parse(command: click.Command, name: str, args: list[str], parent=None) -> None:
    ctx = command.make_context(name, list(args), parent=parent)
    if isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        sub_name, sub, rest = command.resolve_command(ctx, rest)
        _parse(sub, sub_name, rest, ctx)


def _doc_commands():
    for doc in DOCS:
        for line, inline in _command_lines(_text(doc)):
            yield pytest.param(line, inline, id=f"{_rel(doc)}: {line[:70]}")


@pytest.mark.parametrize(("line", "inline"), list(dict.fromkeys(_doc_commands())))
def test_shown_command_lines_parse(line, inline, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for args in _variants(line):
        program, *rest = _existing(args, tmp_path)
        command = server_cli if program == "cellwms" else station_cli
        try:
            _parse(command, program, rest)
        except click.exceptions.Exit:
            pass  # --help
        except click.exceptions.NoArgsIsHelpError as error:
            if not inline:
                pytest.fail(f"{' '.join(args)}: {error.format_message()}")
        except click.MissingParameter as error:
            # An inline mention may name a command alone (`cellwms bench generate`): its options follow
            # in the text; once it shows an option, it must be whole.
            named_only = not any(a.startswith("-") for a in args)
            if not (inline and (isinstance(error.param, click.Argument) or named_only)):
                pytest.fail(f"{' '.join(args)}: {error.format_message()}")
        except click.UsageError as error:
            pytest.fail(f"{' '.join(args)}: {error.format_message()}")


def test_a_wrong_command_line_is_caught(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    for wrong in ("cellwms stock chek", "cellwms layout apply examples/layout.toml --dry-rn",
                  "cellwms-station devices probe --port /dev/ttyUSB0"):
        with pytest.raises(click.UsageError):
            program, *rest = shlex.split(wrong)
            _parse(server_cli if program == "cellwms" else station_cli, program, rest)


def test_docs_show_command_lines():
    lines = [line for doc in DOCS for line, _ in _command_lines(_text(doc))]
    assert len(lines) > 40
    assert any(line.startswith("cellwms-station ") for line in lines)


# --- settings -----------------------------------------------------------------------------------

SETTING = re.compile(r"\bCELLWMS_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def _settings_in(paths) -> set[str]:
    return {name for path in paths for name in SETTING.findall(_text(path))}


def test_every_setting_named_exists_and_every_setting_is_named():
    code = _settings_in([ROOT / "server" / "config.py", *(ROOT / "server").rglob("*.py"),
                         *(ROOT / "terminal").rglob("*.py")])
    # Internal names that are no environment settings (the list of page languages).
    code -= {"CELLWMS_LANGUAGES"}
    config_text = _text(ROOT / "server" / "config.py")
    settings = {n for n in SETTING.findall(config_text) if f'env.get("{n}"' in config_text}
    settings |= {n for n in code if re.search(rf'(envvar|os\.environ\.get)\(?[=\s]*"{n}"', "".join(
        _text(p) for p in [*(ROOT / "server").rglob("*.py"), *(ROOT / "terminal").rglob("*.py")]))}
    documented = _settings_in(DOCS) - TEST_SETTINGS
    assert documented - code == set(), "the docs name settings the code does not have"
    assert settings - documented == set(), "settings the docs do not describe"


def test_every_environment_setting_of_the_server_is_in_a_configuration_table():
    config_text = _text(ROOT / "server" / "config.py")
    names = set(re.findall(r'env\.get\("([A-Z_]+)"', config_text)) | {"DATABASE_URL", "CELLWMS_INSTANCE"}
    docs = "".join(_text(doc) for doc in DOCS)
    # Names in the first column of a table row: "| `A`, `B` |" or "| `A` (or `B`) |".
    tables = {n for cell in re.findall(r"^\| ([^|]+) \|", docs, re.M) for n in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    assert names - tables == set(), "settings of server/config.py missing from the docs' configuration tables"


# --- benchmark files ----------------------------------------------------------------------------


def test_benchmark_formats_are_the_ones_bench_reads_and_writes():
    from bench.instances import Instance, Result, generate

    text = _text(ROOT / "docs" / "benchmarks.md")
    blocks = [b for b in CODE_BLOCK.findall(text)]
    instance = Instance.from_json(__import__("json").loads(blocks[0]))
    result = Result.from_json(__import__("json").loads(blocks[1]))
    assert result.id == instance.id
    written = generate(aisles=(10,), blocks=(2,), picks=(5,), storage=("abc",), per_cell=1)[0].to_json()
    assert re.fullmatch(r"b2-a10-n5-abc-0000", written["id"])
    documented = set(re.findall(r"^\| `(?:layout\.)?([a-z_]+)`(?:, `layout\.([a-z_]+)`)?", text, re.M))
    names = {n for pair in documented for n in pair if n}
    assert set(written["layout"]) | set(written) | set(result.to_json()) <= names | {"layout"}


def test_sign_in_limits_come_from_the_environment(tmp_path, monkeypatch):
    from server.config import load_config

    monkeypatch.setenv("SECRET_KEY", "x")
    assert load_config(str(tmp_path))["CELLWMS_SIGNIN_MAX_PER_USER"] == 5
    for name, value in (("CELLWMS_SIGNIN_MAX_PER_USER", 3), ("CELLWMS_SIGNIN_MAX_PER_ADDRESS", 7),
                        ("CELLWMS_SIGNIN_WINDOW_SECONDS", 60)):
        monkeypatch.setenv(name, str(value))
        assert load_config(str(tmp_path))[name] == value


def test_the_docs_say_the_secure_cookie_default_the_code_has(tmp_path, monkeypatch):
    from server.config import load_config

    for name in ("CELLWMS_SECURE_COOKIES", "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    assert load_config(str(tmp_path))["SESSION_COOKIE_SECURE"] is False
    [row] = [line for line in _text(ROOT / "README.md").splitlines() if line.startswith("| `CELLWMS_SECURE_COOKIES`")]
    assert row.split(" | ")[1] == "0 (off)" and "`1`, `true`, `yes` or `on`" in row
    assert "`CELLWMS_SECURE_COOKIES` wins when both are set" in row
    running = " ".join(_text(ROOT / "docs" / "running.md").split())
    assert "export CELLWMS_SECURE_COOKIES=1" in running and "It is off by default" in running
    assert "The session cookie is `Secure` only when `CELLWMS_SECURE_COOKIES` (or `SESSION_COOKIE_SECURE`) is on" \
        in running
