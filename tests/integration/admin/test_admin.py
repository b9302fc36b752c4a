"""`messaging-admin` finds the database of a running `make up` by itself, and every failure a person can act on is
one line on stderr with exit code 1, never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import orjson
import pytest
from tests.infra import with_database
from tests.paths import EXAMPLES

from api.admin.cli import main
from api.permits import ALL_PERMITS, SENDINGS_GET
from devstack.processes import free_port

ADMIN = Path(sys.executable).parent / "messaging-admin"


def admin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the command as the console script does: (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_failure(code: int, err: str) -> str:
    """The single stderr line of a failed command."""
    assert "Traceback" not in err
    assert code == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def no_database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No DATABASE_URL and no LOCAL_DIR, run from an empty directory; returns it."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LOCAL_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def on(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """The commands work on the test's database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def write_state_file(local_dir: Path, database_url: str, pid: int) -> None:
    local_dir.mkdir(parents=True, exist_ok=True)
    state = {"pid": pid, "database_url": database_url, "kafka_bootstrap_servers": "127.0.0.1:1",
             "api_url": "http://127.0.0.1:1", "receipts_url": "http://127.0.0.1:1"}  # fmt: skip
    (local_dir / "stack.json").write_bytes(orjson.dumps(state))


def test_without_database_url_or_a_running_make_up_the_script_says_what_it_tried_in_one_line(
    no_database_url: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LOCAL_DIR")}
    done = subprocess.run(
        [str(ADMIN), "list-lcs"], cwd=no_database_url, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    line = one_line_failure(done.returncode, done.stderr)
    assert str(no_database_url / ".local" / "stack.json") in line
    assert "start `make up`" in line
    assert "set DATABASE_URL" in line


def test_an_unreachable_database_is_one_line_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    monkeypatch.setenv("DATABASE_URL", url)
    for command in (["migrate"], ["create-lc", "acme", "--name", "Acme"], ["sending", "1"]):
        line = one_line_failure(*admin(capsys, *command)[::2])
        assert line.startswith(f"messaging-admin: cannot reach PostgreSQL at {url}: ")
        assert line.endswith("check DATABASE_URL")


@pytest.mark.parametrize("by", ["LOCAL_DIR", "the current directory's .local"])
def test_the_state_file_of_a_running_make_up_is_found_without_database_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_database_url: Path, database_url: str,
    by: str,
) -> None:  # fmt: skip
    if by == "LOCAL_DIR":
        monkeypatch.setenv("LOCAL_DIR", str(no_database_url / "elsewhere"))
        write_state_file(no_database_url / "elsewhere", database_url, os.getpid())
    else:
        write_state_file(no_database_url / ".local", database_url, os.getpid())

    assert admin(capsys, "create-lc", "found", "--name", "Found Club")[0] == 0
    code, out, err = admin(capsys, "list-lcs")

    assert code == 0, err
    assert out.splitlines()[0].split() == ["id", "slug", "name", "members", "clients"]
    assert out.splitlines()[1].split() == ["1", "found", "Found", "Club", "0", "0"]


def test_a_state_file_left_by_a_killed_make_up_is_named_as_such(
    capsys: pytest.CaptureFixture[str], no_database_url: Path, database_url: str
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_state_file(no_database_url / ".local", database_url, gone.pid)
    line = one_line_failure(*admin(capsys, "list-lcs")[::2])
    assert f"is left from a make up that no longer runs (pid {gone.pid})" in line


def test_a_state_file_that_is_not_one_is_named_as_such(
    capsys: pytest.CaptureFixture[str], no_database_url: Path
) -> None:
    (no_database_url / ".local").mkdir()
    (no_database_url / ".local" / "stack.json").write_text("{half")
    line = one_line_failure(*admin(capsys, "list-lcs")[::2])
    assert "stack.json is not a make up state file" in line


async def test_a_database_never_migrated_is_one_line_saying_to_migrate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, template_database: str
) -> None:
    name = f"blank_{uuid.uuid4().hex[:12]}"
    server = await asyncpg.connect(template_database)
    await server.execute(f'CREATE DATABASE "{name}"')
    try:
        monkeypatch.setenv("DATABASE_URL", with_database(template_database, name))
        for command in (["list-lcs"], ["create-lc", "acme", "--name", "Acme"]):
            line = one_line_failure(*(await asyncio.to_thread(admin, capsys, *command))[::2])
            assert line.endswith("has no messaging schema yet: run `messaging-admin migrate` first")
    finally:
        await server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await server.close()


def test_a_loyalty_club_created_twice_is_one_line(capsys: pytest.CaptureFixture[str], on: str) -> None:
    assert admin(capsys, "create-lc", "acme", "--name", "Acme")[0] == 0
    line = one_line_failure(*admin(capsys, "create-lc", "acme", "--name", "Acme again")[::2])
    assert line == (
        "messaging-admin: loyalty club acme exists already (`messaging-admin list-lcs` lists them): choose another slug"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["create-client", "--lc", "nope", "--name", "x", "--all-permits"],
        ["import-members", str(EXAMPLES / "members.jsonl"), "--lc", "nope"],
        ["list-clients", "--lc", "nope"],
    ],
    ids=["create-client", "import-members", "list-clients"],
)
def test_an_unknown_loyalty_club_is_one_line(capsys: pytest.CaptureFixture[str], on: str, command: list[str]) -> None:
    line = one_line_failure(*admin(capsys, *command)[::2])
    assert line.startswith("messaging-admin: unknown loyalty club: nope (`messaging-admin list-lcs` lists them")


def test_a_missing_members_file_is_one_line(capsys: pytest.CaptureFixture[str], on: str, tmp_path: Path) -> None:
    admin(capsys, "create-lc", "acme", "--name", "Acme")
    line = one_line_failure(*admin(capsys, "import-members", str(tmp_path / "nope.jsonl"), "--lc", "acme")[::2])
    assert line == f"messaging-admin: no members file {tmp_path / 'nope.jsonl'}: give the path of a .jsonl or .csv file"


@pytest.mark.parametrize(
    ("name", "content", "extra", "says"),
    [
        ("members.jsonl", b"id,msisdn\n1,4790000001\n", [], "is not a JSON object"),
        ("members.csv", b'{"id": 1}\n', [], "has no id column"),
        ("members.xlsx", b'{"id": 1}\n', [], "cannot tell the format"),
        ("members.jsonl", b"PK\x03\x04\x14\x00\x08\x08\x00\xa3\x95\n", [], "is not UTF-8 text"),
        ("members.txt", b"id,msisdn\n1,4790000001\n", ["--format", "jsonl"], "is not a JSON object"),
    ],
    ids=["csv-as-jsonl", "jsonl-as-csv", "unknown-extension", "binary", "wrong-format-option"],
)
def test_a_members_file_in_another_format_is_one_line_before_anything_is_imported(
    capsys: pytest.CaptureFixture[str], on: str, tmp_path: Path, name: str, content: bytes, extra: list[str], says: str
) -> None:
    admin(capsys, "create-lc", "acme", "--name", "Acme")
    (tmp_path / name).write_bytes(content)
    line = one_line_failure(*admin(capsys, "import-members", str(tmp_path / name), "--lc", "acme", *extra)[::2])
    assert says in line
    assert str(tmp_path / name) in line


def test_a_permit_is_checked_against_the_known_ones(capsys: pytest.CaptureFixture[str], on: str) -> None:
    admin(capsys, "create-lc", "acme", "--name", "Acme")
    args = ["create-client", "--lc", "acme", "--name", "x", "--permit", SENDINGS_GET, "--permit"]
    line = one_line_failure(*admin(capsys, *args, "Messages:Api:Sending:Get")[::2])
    assert line == (
        "messaging-admin: unknown permit 'Messages:Api:Sending:Get': did you mean Messages:Api:Sendings:Get? "
        "`messaging-admin create-client --help` lists them"
    )
    assert "no API client" in admin(capsys, "list-clients", "--lc", "acme")[1], "nothing was stored"
    code, out, _ = admin(capsys, *args, "Messages:Api:Messages:Index")  # the synonym of ...:List
    assert code == 0
    assert out.startswith("created API client 'x' for acme with 2 permit(s)")


def test_the_help_of_create_client_lists_every_permit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["create-client", "--help"])
    out = capsys.readouterr().out
    assert all(f"\n  {permit}\n" in out + "\n" for permit in ALL_PERMITS)


def test_list_lcs_and_list_clients_show_what_exists_and_revoke_client_refuses_a_token(
    capsys: pytest.CaptureFixture[str], on: str
) -> None:
    admin(capsys, "create-lc", "acme", "--name", "Acme Club")
    admin(capsys, "create-lc", "beta", "--name", "Beta")
    admin(capsys, "create-client", "--lc", "acme", "--lc", "beta", "--name", "shop", "--all-permits")
    admin(capsys, "create-client", "--lc", "acme", "--name", "reports", "--permit", SENDINGS_GET)
    admin(capsys, "import-members", str(EXAMPLES / "members.jsonl"), "--lc", "acme")

    lcs = [line.split() for line in admin(capsys, "list-lcs")[1].splitlines()]
    assert lcs == [["id", "slug", "name", "members", "clients"], ["1", "acme", "Acme", "Club", "30", "2"],
                   ["2", "beta", "Beta", "0", "1"]]  # fmt: skip

    assert admin(capsys, "revoke-client", "2")[1].startswith("revoked API client 2 at ")
    assert admin(capsys, "revoke-client", "2")[1].startswith("API client 2 was revoked already, at ")
    line = one_line_failure(*admin(capsys, "revoke-client", "99")[::2])
    assert line == "messaging-admin: no API client 99 (`messaging-admin list-clients --lc SLUG` lists them)"

    clients = admin(capsys, "list-clients", "--lc", "acme")[1].splitlines()
    assert clients[0].split() == ["id", "name", "created", "revoked", "loyalty", "clubs", "permits"]
    shop, reports = clients[1].split(), clients[2].split()
    assert (shop[:2], shop[4], shop[-2:]) == (["1", "shop"], "-", ["acme,beta", "all"])
    assert (reports[:2], reports[-2:]) == (["2", "reports"], ["acme", SENDINGS_GET])
    assert reports[4] != "-", "the revocation time"
    assert admin(capsys, "list-lcs")[1].splitlines()[1].split()[-1] == "1", "a revoked client no longer counts"


async def test_the_two_sample_files_hold_the_same_members_and_import_whole(
    db: asyncpg.Pool, capsys: pytest.CaptureFixture[str], on: str
) -> None:
    for slug, sample in (("jsonl", "members.jsonl"), ("csv", "members.csv")):
        assert (await asyncio.to_thread(admin, capsys, "create-lc", slug, "--name", slug))[0] == 0
        code, out, err = await asyncio.to_thread(admin, capsys, "import-members", str(EXAMPLES / sample), "--lc", slug)
        assert code == 0, err
        assert out.startswith("read 30 rows: 30 members imported, 0 rejected"), out
    columns = "m.id, msisdn, email, properties, consents, sms_status, email_status, push_status"
    members = {
        slug: [dict(r) for r in await db.fetch(
            f"SELECT {columns} FROM members m JOIN loyalty_clubs lc ON lc.id = m.loyalty_club_id "  # noqa: S608
            "WHERE lc.slug = $1 ORDER BY m.id", slug)]
        for slug in ("jsonl", "csv")
    }  # fmt: skip
    assert members["csv"] == members["jsonl"]
