"""Users, roles and the access log (利用登记), as the library keeps them."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pwd
import sqlite3
from pathlib import Path

import pytest
from conftest import run_dangan
from openpyxl import load_workbook

from archive.access.log import FULL_CHECK_SECONDS, AccessLog, Actor, LogFilter, _digest
from archive.access.roles import ACTIONS, ROLES, UndeclaredAction, allowed, ensure_permission
from archive.access.store import AccessStore
from archive.access.users import LOCK_MINUTES, MAX_FAILED, Users
from archive.core.config import Archive
from archive.core.errors import AuthenticationError, Forbidden, NotFoundError, UsageError
from archive.paperwork.access_xlsx import access_log_xlsx
from samples.bench_archive import current_households, household_files

CLI = Actor("命令行:测试", "", "本机")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 6, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> AccessStore:
    return AccessStore(tmp_path / "access" / "access.sqlite", clock=clock)


def test_passwords_are_kept_as_argon2id_hashes_only(store: AccessStore) -> None:
    Users(store).add("王科长", "reader", "reader-pass-1", actor=CLI)
    with sqlite3.connect(store.path) as db:
        (hashed,) = db.execute("SELECT password FROM users").fetchone()
    assert hashed.startswith("$argon2id$") and "reader-pass-1" not in hashed
    assert b"reader-pass-1" not in store.path.read_bytes()
    assert (store.path.parent.stat().st_mode & 0o077) == 0, "only its owner may read the folder"


def test_names_roles_and_passwords_are_checked_with_the_reason(store: AccessStore) -> None:
    users = Users(store)
    with pytest.raises(UsageError, match="角色“boss”不存在"):
        users.add("张三", "boss", "long-enough-1", actor=CLI)
    with pytest.raises(UsageError, match="密码太短: 至少 8 个字符"):
        users.add("张三", "reader", "short", actor=CLI)
    with pytest.raises(UsageError, match="不能与用户名相同"):
        users.add("zhangsan", "reader", "ZhangSan", actor=CLI)
    with pytest.raises(UsageError, match="不可用"):
        users.add("张 三", "reader", "long-enough-1", actor=CLI)
    users.add("张三", "reader", "long-enough-1", actor=CLI)
    with pytest.raises(UsageError, match="已存在"):
        users.add("张三", "clerk", "long-enough-2", actor=CLI)
    with pytest.raises(NotFoundError, match="没有用户 李四"):
        users.set_password("李四", "long-enough-3", actor=CLI)


def test_sign_in_and_lockout_after_repeated_failures(store: AccessStore, clock: Clock) -> None:
    users, log = Users(store), AccessLog(store)
    users.add("王科长", "reader", "reader-pass-1", actor=CLI)
    assert users.authenticate("王科长", "reader-pass-1", address="10.0.0.5").role == "reader"
    for attempt in range(1, MAX_FAILED):
        with pytest.raises(AuthenticationError, match=f"再错 {MAX_FAILED - attempt} 次"):
            users.authenticate("王科长", "wrong", address="10.0.0.5")
    with pytest.raises(AuthenticationError, match="账户已锁定至 09:15"):
        users.authenticate("王科长", "wrong", address="10.0.0.5")
    with pytest.raises(AuthenticationError, match="锁定"):  # the right password, still locked
        users.authenticate("王科长", "reader-pass-1", address="10.0.0.5")
    clock.now += dt.timedelta(minutes=LOCK_MINUTES, seconds=1)
    assert users.authenticate("王科长", "reader-pass-1", address="10.0.0.5").failed == 0
    actions = [e.action for e in reversed(log.query(LogFilter(user="王科长")).entries)]
    assert actions == [
        "login",
        *["login_failed"] * (MAX_FAILED - 1),
        "locked",
        "login_failed",
        "login",
    ]
    # an admin lifts a lock at once
    for _ in range(MAX_FAILED):
        with pytest.raises(AuthenticationError):
            users.authenticate("王科长", "wrong", address="10.0.0.5")
    users.unlock("王科长", actor=CLI)
    users.authenticate("王科长", "reader-pass-1", address="10.0.0.5")


def test_unknown_and_disabled_accounts_are_refused(store: AccessStore) -> None:
    users = Users(store)
    users.add("管理员", "admin", "admin-pass-1", actor=CLI)
    users.add("王科长", "reader", "reader-pass-1", actor=CLI)
    with pytest.raises(AuthenticationError, match=r"^用户名或密码不对$"):
        users.authenticate("没有这人", "whatever-1", address="10.0.0.9")
    users.set_active("王科长", False, actor=CLI)
    with pytest.raises(AuthenticationError, match="已停用"):
        users.authenticate("王科长", "reader-pass-1", address="10.0.0.9")
    with pytest.raises(UsageError, match="唯一在用的系统管理员"):
        users.set_active("管理员", False, actor=CLI)
    failed = AccessLog(store).query(LogFilter(action="login_failed")).entries
    assert {(e.user, e.detail, e.address) for e in failed} == {
        ("没有这人", "用户名不存在", "10.0.0.9"),
        ("王科长", "账户已停用", "10.0.0.9"),
    }


def test_the_role_table_and_the_permission_check() -> None:
    assert set(ROLES) == {"admin", "clerk", "reader", "auditor"}
    reads = {r for r in ROLES if allowed(r, "record.view")}
    assert reads == {"clerk", "reader"}, "三员分立: the admin and the auditor do not read records"
    assert {r for r in ROLES if allowed(r, "log.view")} == {"auditor"}
    assert {r for r in ROLES if allowed(r, "users.manage")} == {"admin"}
    assert all(a.roles <= set(ROLES) for a in ACTIONS.values())

    class Who:
        name, role = "管理员", "admin"

    with pytest.raises(Forbidden, match="管理员（系统管理员）无权查阅档案 610522100123"):
        ensure_permission(Who(), "record.view", "610522100123")
    with pytest.raises(AuthenticationError, match="请先登录"):
        ensure_permission(None, "record.view")
    with pytest.raises(UndeclaredAction):
        ensure_permission(Who(), "record.delete")
    with pytest.raises(UndeclaredAction):
        ensure_permission(None, "record.delete")


def test_the_log_is_append_only_and_tampering_shows(store: AccessStore, clock: Clock) -> None:
    log = AccessLog(store)
    reader = Actor("王科长", "reader", "10.0.0.5")
    for i in range(5):
        log.record(reader, "view_dossier", f"61052210012{i}")
        clock.now += dt.timedelta(minutes=1)
    assert log.verify().ok and log.verify().entries == 5
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.DatabaseError, match="只能追加"):
        db.execute("UPDATE log SET user = '别人' WHERE seq = 2")
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.DatabaseError, match="只能追加"):
        db.execute("DELETE FROM log WHERE seq = 2")
    # someone drops the triggers with another SQLite tool and edits an entry
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER log_append_only_update")
    db.execute("UPDATE log SET target = '610522999999' WHERE seq = 3")
    db.commit()
    db.close()
    check = log.verify()
    assert check.broken_at == 3 and "第 3 条的内容被改动过" in check.problems[0]


def test_a_deleted_entry_shows_in_the_chain(store: AccessStore) -> None:
    log = AccessLog(store)
    for i in range(4):
        log.record(Actor("王科长", "reader", "10.0.0.5"), "search", f"第{i}次")
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER log_append_only_delete")
    db.execute("DELETE FROM log WHERE seq = 2")
    db.commit()
    db.close()
    assert log.verify().broken_at == 3


def _tamper(store: AccessStore, *statements: str) -> None:
    """What someone with another SQLite tool could do: drop the triggers, then edit."""
    db = sqlite3.connect(store.path)
    db.execute("DROP TRIGGER IF EXISTS log_append_only_update")
    db.execute("DROP TRIGGER IF EXISTS log_append_only_delete")
    for sql in statements:
        db.execute(sql)
    db.commit()
    db.close()


def _rechain(store: AccessStore, from_seq: int) -> None:
    """A forger's rewrite: change an entry and compute every hash after it again."""
    db = sqlite3.connect(store.path)
    rows = db.execute(
        "SELECT seq, at, user, role, action, target, detail, address FROM log "
        "WHERE seq >= ? ORDER BY seq",
        (from_seq,),
    ).fetchall()
    prev = db.execute("SELECT hash FROM log WHERE seq = ?", (from_seq - 1,)).fetchone()[0]
    for seq, *values in rows:
        if seq == from_seq:
            values[4] = "610522999999"
        digest = _digest(prev, tuple(values))
        db.execute(
            "UPDATE log SET target = ?, prev = ?, hash = ? WHERE seq = ?",
            (values[4], prev, digest, seq),
        )
        prev = digest
    db.commit()
    db.close()


def test_the_page_check_walks_only_what_is_new_and_still_sees_tampering(
    store: AccessStore,
) -> None:
    log = AccessLog(store)
    reader = Actor("王科长", "reader", "10.0.0.5")
    now = [0.0]

    def ticks() -> float:
        return now[0]

    for i in range(6):
        log.record(reader, "view_dossier", f"61052210012{i}")
    first = log.check(monotonic=ticks)
    assert first.ok and first.full and first.entries == first.walked == 6
    for i in range(3):
        log.record(reader, "search", f"第{i}次")
    later = log.check(monotonic=ticks)
    assert later.ok and not later.full and later.entries == 9 and later.walked == 3
    assert later.full_at == first.full_at

    # a chain rewritten from an old entry on: the last sound entry's hash no longer fits
    _tamper(store)
    _rechain(store, 3)
    assert log.verify().ok  # a rewritten chain holds together on its own …
    caught = log.check(monotonic=ticks)  # … but not with what the page saw before
    assert caught.broken_at == 9 and "被改动或删除" in caught.problems[0]
    assert not log.check(monotonic=ticks).ok  # a broken log stays reported

    # the log cut short behind the page's back shows at once too
    fresh = AccessLog(store)
    assert fresh.check(monotonic=ticks).ok  # (a new process trusts the chain it finds)
    _tamper(store, "DELETE FROM log WHERE seq >= 8")
    assert fresh.check(monotonic=ticks).broken_at == 9

    # an entry edited in place shows when the whole chain is walked: asked for, or hourly
    again = AccessLog(store)
    assert again.check(monotonic=ticks).ok and again.check(monotonic=ticks).walked == 0
    _tamper(store, "UPDATE log SET detail = '改过' WHERE seq = 2")
    assert again.check(monotonic=ticks).ok  # only the entries after the last sound one
    assert again.check(full=True, monotonic=ticks).broken_at == 2
    hourly = AccessLog(store)
    _tamper(store, "UPDATE log SET detail = '' WHERE seq = 2")
    assert hourly.check(monotonic=ticks).full
    _tamper(store, "UPDATE log SET detail = '改过' WHERE seq = 2")
    now[0] += FULL_CHECK_SECONDS - 1
    assert hourly.check(monotonic=ticks).ok
    now[0] += 1
    walked = hourly.check(monotonic=ticks)
    assert walked.full and walked.broken_at == 2


def test_filters_and_the_excel_export(store: AccessStore, clock: Clock) -> None:
    log = AccessLog(store)
    a = Actor("王科长", "reader", "10.0.0.5")
    b = Actor("李股长", "clerk", "10.0.0.6")
    log.record(a, "search", "鑫垚", "共 3 条")
    clock.now += dt.timedelta(days=1)
    log.record(b, "view_dossier", "610522100123", "7 份文件")
    log.record(a, "download", "records/许可证档案/610522100123_鑫垚便民店/001_申请表.pdf", "原件")
    assert log.query(LogFilter(user="王科长")).total == 2
    assert [e.action for e in log.query(LogFilter(text="610522100123")).entries] == [
        "download",
        "view_dossier",
    ]
    day2 = clock.now.date()
    assert log.query(LogFilter(since=day2)).total == 2
    assert log.query(LogFilter(until=day2 - dt.timedelta(days=1))).total == 1
    assert log.query(LogFilter(address="10.0.0.6")).entries[0].user == "李股长"
    with pytest.raises(UsageError, match="起始日期晚于截止日期"):
        log.query(LogFilter(since=day2, until=day2 - dt.timedelta(days=2)))
    page = log.query(LogFilter(), offset=1, limit=1)
    assert page.total == 3 and [e.seq for e in page.entries] == [2]
    f = LogFilter(user="王科长")
    data = access_log_xlsx(log.query(f).entries, bureau="潼关县烟草专卖局", f=f, check="登记完整")
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "潼关县烟草专卖局 档案利用登记" and "用户 王科长" in rows[1][0]
    assert rows[2] == ["序号", "时间", "用户", "角色", "事项", "对象", "说明", "地址"]
    assert rows[3][2:6] == ["王科长", "查阅", "下载", rows[3][5]] and rows[3][7] == "10.0.0.5"
    assert rows[4][4] == "检索" and rows[4][1] == "2024-05-06 09:00:00"


def test_users_from_the_command_line(archive_dir: Path) -> None:
    add = run_dangan(
        "users", "add", "管理员", "--role", "admin", "--password-stdin", "--archive", archive_dir,
        input_text="admin-pass-1\n",
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    assert add.stdout.strip() == "已新建用户 管理员 (系统管理员)"
    short = run_dangan(
        "users", "add", "王科长", "--role", "reader", "--password-stdin", "--archive", archive_dir,
        input_text="short\n",
    )  # fmt: skip
    assert short.returncode == 2 and short.stderr.strip() == "错误: 密码太短: 至少 8 个字符"
    again = run_dangan(
        "users", "passwd", "管理员", "--password-stdin", "--archive", archive_dir,
        input_text="admin-pass-2\n",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    last = run_dangan("users", "disable", "管理员", "--archive", archive_dir)
    assert last.returncode == 2 and "唯一在用的系统管理员" in last.stderr
    listed = json.loads(run_dangan("users", "list", "--json", "--archive", archive_dir).stdout)
    assert [(u["name"], u["role"], u["active"]) for u in listed] == [("管理员", "admin", True)]
    assert (archive_dir / "access" / "access.sqlite").is_file()
    assert not (archive_dir / ".dangan" / "access.sqlite").exists()
    users = Users(AccessStore.of(Archive(archive_dir)))
    assert users.authenticate("管理员", "admin-pass-2", address="本机").name == "管理员"
    log = AccessLog(AccessStore.of(Archive(archive_dir))).query(LogFilter())
    # the two refusals (a short password, disabling the last administrator) are logged too
    actions = [(e.action, e.detail) for e in reversed(log.entries)]
    assert actions[0][0] == "user_add"
    assert actions[1] == ("command_failed", "密码太短: 至少 8 个字符")
    assert actions[2][0] == "user_passwd"
    assert actions[3][0] == "command_failed" and "唯一在用的系统管理员" in actions[3][1]
    assert [a for a, _ in actions[4:]] == ["login"]
    assert log.entries[-1].user.startswith("命令行:")


def test_a_correction_from_the_command_line_is_in_the_access_log(archive_dir: Path) -> None:
    """``dangan withdraw`` (the real console script) writes the access log as the web's 更正
    page does: the OS account that ran it (by its user id: $USER is not believed; the
    account sudo was run from beside it), the action, the record, the reason and the named
    operator; ``dangan show`` is logged as the web's dossier page is; the chain, appended to
    by the command line between the web's entries, still verifies."""
    household = current_households(1, 2024, seed=3)[0]
    household_files(archive_dir / "inbox", household)
    plain = {"SUDO_USER": ""}  # as when the tests themselves run under sudo
    filed = run_dangan("ingest", "--archive", archive_dir, env=plain)
    assert filed.returncode == 0, filed.stderr
    log = AccessLog(AccessStore.of(Archive(archive_dir)))
    log.record(Actor("王科长", "reader", "10.0.0.5"), "search", household.name)  # the web's
    shown = run_dangan("show", household.licence_no, "--json", "--archive", archive_dir, env=plain)
    [dossier] = json.loads(shown.stdout)
    record = dossier["documents"][-1]
    account = pwd.getpwuid(os.getuid()).pw_name
    done = run_dangan(
        "withdraw", record["record"], "--reason", "重复扫描", "--by", "张档案", "--json",
        "--archive", archive_dir, env={"USER": "冒名者", "LOGNAME": "冒名者", "SUDO_USER": "张档案"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    withdrawn = json.loads(done.stdout)
    assert withdrawn["record"].startswith("records/已撤出/")
    log.record(Actor("王科长", "reader", "10.0.0.5"), "logout", "王科长")  # and the web's again

    check = log.verify()
    assert check.ok and check.entries == 5, check.problems
    entries = list(reversed(log.query(LogFilter(), limit=10).entries))
    assert [e.action for e in entries] == ["ingest", "search", "view_dossier", "correct", "logout"]
    cli = f"命令行:{account}"
    ingest, _, view, correct, _ = entries
    assert (ingest.user, ingest.address) == (cli, "本机") and "已归档" in ingest.detail
    assert (view.user, view.target) == (cli, household.licence_no)
    assert view.detail == f"{len(dossier['documents'])} 份文件"
    assert (
        correct.user == f"{cli} (sudo 张档案)" and correct.role == "" and correct.address == "本机"
    )
    assert correct.target == withdrawn["record"]
    assert correct.detail.startswith("撤出: ") and "原因: 重复扫描" in correct.detail
    assert correct.detail.endswith("; 经办人 张档案")
    assert "冒名者" not in "".join(e.user for e in entries)
    by_action = log.query(LogFilter(action="correct", text=withdrawn["record"]))
    assert [e.seq for e in by_action.entries] == [correct.seq]  # the auditor's filter finds it


def test_a_command_that_fails_is_in_the_access_log_with_its_reason(archive_dir: Path) -> None:
    """A withdrawal the archive refuses (no such record) is logged as 命令未完成 with the
    command and the reason the clerk was shown, by the account that ran it."""
    plain = {"SUDO_USER": ""}
    refused = run_dangan(
        "withdraw", "records/许可证档案/610522999999_无此户/001_申请表.pdf", "--reason", "试",
        "--archive", archive_dir, env=plain,
    )  # fmt: skip
    assert refused.returncode != 0
    shown = refused.stderr.strip().removeprefix("错误: ")
    assert shown, refused.stderr
    log = AccessLog(AccessStore.of(Archive(archive_dir)))
    [entry] = log.query(LogFilter(), limit=10).entries
    account = pwd.getpwuid(os.getuid()).pw_name
    assert (entry.action, entry.user, entry.address) == (
        "command_failed",
        f"命令行:{account}",
        "本机",
    )
    assert entry.target == "dangan withdraw"
    assert entry.detail == shown
    assert log.verify().ok
