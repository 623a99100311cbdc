"""What the docs promise a newcomer: ``server.py --help`` names every flag's default and
environment variable, and the README's curl examples have a ``TOKEN`` to send."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from settings import argument_parser, load_settings

ROOT = Path(__file__).resolve().parent.parent


def _flags() -> list[argparse.Action]:
    return [action for action in argument_parser({})._actions
            if action.option_strings and action.dest != "help"]  # fmt: skip


def _help_output() -> str:
    """``python server.py --help`` as a shell prints it, with no variable of ours set."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("CRM_") and name != "DATABASE_URL"}  # fmt: skip
    done = subprocess.run([sys.executable, "server.py", "--help"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return " ".join(done.stdout.split())


def _entries(output: str) -> dict[str, str]:
    """Each flag's entry in the help output, from its name to the next flag's."""
    options = output.partition(" options: ")[2].partition(" commands: ")[0]
    names = [action.option_strings[0] for action in _flags()]
    starts = sorted((options.index(f" {name} "), name) for name in names)
    ends = [start for start, _ in starts[1:]] + [len(options)]
    return {name: options[start:end] for (start, name), end in zip(starts, ends, strict=True)}


def _sample(action: argparse.Action) -> str:
    """A value for ``action``'s variable that differs from its default."""
    if action.nargs == 0:
        return "1"
    if action.choices:
        return next(choice for choice in action.choices if choice != action.default)
    if action.dest == "default_region":  # a country phone numbers know
        return "MX"
    if action.dest == "storage_url":  # a bucket
        return "s3://crm-documents/prod"
    return "12345" if action.type is int else "https://example.test"


def test_help_names_every_flags_default_and_environment_variable():
    entries = _entries(_help_output())
    flags = _flags()
    assert len(entries) == len(flags) >= 12
    for action in flags:
        entry = entries[action.option_strings[0]]
        default = action.default
        shown = "off" if default is False else "none" if default in (None, ()) else str(default)
        assert f"(default: {shown}" in entry, entry
        variable = re.search(r"; env ([A-Z_]+)", entry)
        if variable is None:
            assert "no environment variable" in entry, entry
            continue
        # The variable named is the one that really sets the flag.
        before = getattr(load_settings([], {}), _field(action.dest))
        after = getattr(load_settings([], {variable[1]: _sample(action)}), _field(action.dest))
        assert after != before, (action.dest, variable[1])


def _field(dest: str) -> str:
    """The Settings field a flag fills (``--standard-execution`` turns ``fast_execution`` off)."""
    return {"standard_execution": "fast_execution"}.get(dest, dest)


def test_help_names_the_migrate_command_and_the_admin_token():
    output = _help_output()
    assert "server.py migrate" in output
    assert "CRM_ADMIN_TOKEN" in output


def test_the_readme_sets_token_before_its_curl_examples():
    lines = (ROOT / "README.md").read_text().splitlines()
    token = next(
        (i for i, line in enumerate(lines) if re.match(r"\s*(export )?TOKEN=", line)), None
    )
    assert token is not None, "the README never sets TOKEN"
    curls = [i for i, line in enumerate(lines) if re.match(r"\s*curl ", line)]
    assert curls, "the README has no curl example"
    assert all(i > token for i in curls), (token, curls)
    assert all("$TOKEN" in " ".join(lines[i : i + 3]) for i in curls)


def test_the_readme_links_the_contract_in_the_repository():
    readme = (ROOT / "README.md").read_text()
    assert "docs/contract.md" in readme
    assert "../shared/" not in readme


def test_the_readme_and_operations_name_every_flag_and_its_variable():
    for page in ("README.md", "docs/operations.md"):
        text = (ROOT / page).read_text()
        for action in _flags():
            flag = action.option_strings[0]
            assert f"`{flag}" in text, (page, flag)
            variable = re.search(r"; env ([A-Z_]+)", action.help or "")
            if variable:
                assert f"`{variable[1]}" in text, (page, variable[1])
