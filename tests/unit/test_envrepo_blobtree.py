"""In-memory edits (``transaction(..., in_memory=True)``) against real bare repositories.

The edit gets a :class:`BlobTree` of the start commit instead of a checkout: it must answer exactly what a
:class:`SafeTree` over a checkout of the same commit answers (contents, kinds, listings, every refusal),
and its writes must land as the same commit a checkout would have made.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promoter.envrepo import BlobTree, ChangeSet, EnvRepo, FileTree, open_tree
from promoter.errors import ConcurrencyError, PromoterError
from promoter.safepath import SafeTree
from tests.support.gitrepos import git, make_remote, read_remote_file, remote_text

FILES = {
    "values.yaml": "app: old\n",
    "apps/api/values.yaml": "tag: 1\n",
    "apps/web/values.yaml": "tag: 2\r\nname: web\r\n",
    "apps/web/extra.yaml": "x: 1\n",
    "deploy.sh": "#!/bin/sh\necho deploy\n",
    "docs/readme.md": "hi\n",
}  # and latin1.yaml (not UTF-8), deploy.sh made executable, a submodule at vendor: see ``remote``
LINKS = {"linked-file.yaml": "/etc/passwd", "linked-dir": "/etc", "apps/link": "../values.yaml"}


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = make_remote(tmp_path, FILES, branches=("main", "staging"), links=LINKS)
    seed = tmp_path / "seed"
    git("clone", "-q", str(bare), str(seed), cwd=tmp_path)
    (seed / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    (seed / "deploy.sh").chmod(0o755)
    git("add", "-A", cwd=seed)
    head = git("rev-parse", "HEAD", cwd=seed)
    git("update-index", "--add", "--cacheinfo", f"160000,{head},vendor", cwd=seed)  # a submodule
    git("commit", "-q", "-m", "more", cwd=seed)
    for branch in ("main", "staging"):
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=seed)
    return bare


def checkout(remote: Path, tmp_path: Path, branch: str = "main") -> Path:
    target = tmp_path / f"checkout-{branch}"
    subprocess.run(["git", "clone", "-q", "-b", branch, str(remote), str(target)], check=True)
    return target


def outcome(call: Callable[[], Any]) -> Any:
    """What a call returns, or the error it raises (type, message, where)."""
    try:
        return ("ok", call())
    except PromoterError as exc:
        return ("error", type(exc).__name__, exc.message, exc.where)


QUERIES: list[tuple[str, str, Callable[[FileTree], Any]]] = [  # name, ok or error, the call
    ("read a file", "ok", lambda t: t.read_bytes("apps/api/values.yaml")),
    ("read CRLF bytes untouched", "ok", lambda t: t.read_bytes("apps/web/values.yaml")),
    ("read text", "ok", lambda t: t.read_text("values.yaml")),
    ("read an absent file", "ok", lambda t: t.read_bytes("apps/none/values.yaml")),
    (
        "read text of an absent file",
        "error",
        lambda t: t.read_text("apps/none/values.yaml", "main:apps/none"),
    ),
    ("read text or none", "ok", lambda t: t.read_text_or_none("apps/none.yaml")),
    ("read a directory", "error", lambda t: t.read_bytes("apps/api")),
    ("read a linked file", "error", lambda t: t.read_bytes("linked-file.yaml")),
    ("read through a linked directory", "error", lambda t: t.read_bytes("linked-dir/passwd")),
    ("read a link inside a directory", "error", lambda t: t.read_text("apps/link")),
    ("read below a file", "error", lambda t: t.read_bytes("values.yaml/x")),
    ("read a file that is not UTF-8", "error", lambda t: t.read_text("latin1.yaml")),
    ("read a path outside the tree", "error", lambda t: t.read_bytes("../values.yaml")),
    ("read an absolute path", "error", lambda t: t.read_bytes("/etc/passwd")),
    ("kind of a file", "ok", lambda t: t.kind("values.yaml")),
    ("kind of a directory", "ok", lambda t: t.kind("apps")),
    ("kind of a link", "ok", lambda t: t.kind("linked-dir")),
    ("kind below a link", "error", lambda t: t.kind("linked-dir/x")),
    ("kind of an absent path", "ok", lambda t: t.kind("nothing/here")),
    ("exists: link", "error", lambda t: t.exists("linked-file.yaml")),
    ("exists: file", "ok", lambda t: t.exists("docs/readme.md")),
    ("is_file: directory", "ok", lambda t: t.is_file("docs")),
    ("check a link", "error", lambda t: t.check("linked-file.yaml")),
    ("check a link, final link allowed", "ok", lambda t: t.check("linked-file.yaml", final_link_ok=True)),
    ("check below a linked directory", "error", lambda t: t.check("linked-dir/new.yaml")),
    ("list a directory", "ok", lambda t: t.list_dir("apps")),
    ("list the root", "ok", lambda t: [e for e in t.list_dir(".") if e.name not in (".git", "vendor")]),
    ("list an absent directory", "ok", lambda t: t.list_dir("nothing")),
    ("list a linked directory", "error", lambda t: t.list_dir("linked-dir")),
    ("write through a linked directory", "error", lambda t: t.write_text("linked-dir/x.yaml", "x\n")),
    ("write over a link", "error", lambda t: t.write_text("linked-file.yaml", "x\n")),
    ("write over a directory", "error", lambda t: t.write_text("apps", "x\n")),
    ("write below a file", "error", lambda t: t.write_text("values.yaml/x", "x\n")),
    ("unlink a link", "error", lambda t: t.unlink("apps/link")),
    ("unlink a directory", "error", lambda t: t.unlink("docs")),
    ("unlink an absent file", "ok", lambda t: t.unlink("nothing.yaml")),
]


@pytest.mark.parametrize(("name", "kind", "query"), QUERIES, ids=[name for name, _, _ in QUERIES])
def test_answers_and_refusals_match_a_checkout(
    remote: Path, tmp_path: Path, name: str, kind: str, query: Callable[[FileTree], Any]
) -> None:
    checked_out = SafeTree(checkout(remote, tmp_path), label="main")
    with EnvRepo(str(remote)) as repo:
        seen: dict[str, Any] = {}

        def edit(tree: BlobTree) -> ChangeSet:
            seen["blob"] = outcome(lambda: query(open_tree(tree, "main")))
            return ChangeSet()

        repo.transaction("main", edit, "m", in_memory=True)
    expected = outcome(lambda: query(checked_out))
    assert seen["blob"] == expected
    assert expected[0] == kind, expected


def test_a_submodule_is_neither_read_nor_written(remote: Path) -> None:
    seen: list[Any] = []

    def edit(tree: BlobTree) -> ChangeSet:
        files = open_tree(tree, "main")
        seen.extend(
            outcome(call)
            for call in (
                lambda: files.kind("vendor"),
                lambda: files.read_bytes("vendor"),
                lambda: files.write_text("vendor", "x"),
                lambda: files.write_text("vendor/values.yaml", "x"),
            )
        )
        return ChangeSet()

    with EnvRepo(str(remote)) as repo:
        repo.transaction("main", edit, "m", in_memory=True)
    assert seen == [
        ("ok", "other"),
        ("error", "UnsafeTargetError", "unsafe target: vendor is not a regular file", "main:vendor"),
        ("error", "UnsafeTargetError", "unsafe target: vendor is not a regular file", "main:vendor"),
        ("error", "UnsafeTargetError", "unsafe target: vendor is not a directory", "main:vendor"),
    ]


def test_writes_are_read_back_and_listed_like_files_on_disk(remote: Path, tmp_path: Path) -> None:
    def steps(tree: FileTree) -> list[Any]:
        tree.write_text("apps/new/deep/values.yaml", "tag: 9\n")
        tree.unlink("apps/web/extra.yaml")
        tree.write_text("values.yaml", "app: new\n")
        return [
            outcome(lambda: tree.read_text("apps/new/deep/values.yaml")),
            outcome(lambda: tree.kind("apps/new")),
            outcome(lambda: tree.read_bytes("apps/web/extra.yaml")),
            outcome(lambda: tree.list_dir("apps")),
            outcome(lambda: tree.list_dir("apps/web")),
            outcome(lambda: tree.read_text("values.yaml")),
            outcome(lambda: tree.write_text("values.yaml/below", "x")),
        ]

    on_disk = steps(SafeTree(checkout(remote, tmp_path), label="main"))
    with EnvRepo(str(remote)) as repo:
        seen: dict[str, Any] = {}

        def edit(tree: BlobTree) -> ChangeSet:
            seen["blob"] = steps(open_tree(tree, "main"))
            return ChangeSet()

        repo.transaction("main", edit, "m", in_memory=True)
    assert seen["blob"] == on_disk


def test_in_memory_edit_lands_without_a_checkout(remote: Path) -> None:
    before = git("rev-parse", "main", cwd=remote)
    wanted = ["apps/api/values.yaml", "apps/web/values.yaml", "deploy.sh", "apps/web/extra.yaml"]

    def edit(tree: BlobTree) -> ChangeSet:
        files = open_tree(tree, "main")
        files.write_text("apps/api/values.yaml", files.read_text("apps/api/values.yaml").replace("1", "7"))
        files.write_text("apps/web/values.yaml", files.read_text("apps/web/values.yaml"))  # unchanged
        files.write_text("deploy.sh", "#!/bin/sh\necho deployed\n")
        files.write_text("apps/new/values.yaml", "tag: 3\n")
        files.unlink("apps/web/extra.yaml")
        return ChangeSet(["edit"], [*wanted, "apps/new/values.yaml"])

    with EnvRepo(str(remote), author="Promoter Bot <bot@example.com>", sparse=wanted) as repo:
        result = repo.transaction("main", edit, "in memory", in_memory=True)
        on_disk = sorted(path.name for path in repo.worktree.iterdir())
    assert on_disk == [".git"]  # nothing was checked out
    assert result.status == "changed"
    assert result.base_commit == before
    assert git("rev-parse", "main^", cwd=remote) == before
    assert (
        git("log", "-1", "--format=%an <%ae>|%B", "main", cwd=remote)
        == "Promoter Bot <bot@example.com>|in memory"
    )
    assert remote_text(remote, "main", "apps/api/values.yaml") == "tag: 7\n"
    assert remote_text(remote, "main", "apps/web/values.yaml") == "tag: 2\r\nname: web\r\n"
    assert remote_text(remote, "main", "apps/new/values.yaml") == "tag: 3\n"
    changed = git("diff", "--name-status", f"{before}..main", cwd=remote).splitlines()
    assert changed == [
        "M\tapps/api/values.yaml",
        "A\tapps/new/values.yaml",
        "D\tapps/web/extra.yaml",
        "M\tdeploy.sh",
    ]
    modes = git("ls-tree", "main", "deploy.sh", "apps/new/values.yaml", "-r", cwd=remote)
    assert "100755 blob" in modes.splitlines()[1] and "100644 blob" in modes.splitlines()[0]
    assert "-tag: 1\n+tag: 7\n" in result.diff
    assert "vendor" in git("ls-tree", "main", cwd=remote)  # everything else kept as it was


def test_the_same_commit_as_a_checkout_would_make(remote: Path) -> None:
    def edit(files: FileTree) -> ChangeSet:
        files.write_text("apps/api/values.yaml", "tag: 5\n")
        files.write_text("docs/new.md", "new\n")
        return ChangeSet(["e"], ["apps/api/values.yaml", "docs/new.md"])

    trees = []
    for in_memory in (False, True):
        with EnvRepo(str(remote), sparse=["apps/api/values.yaml"]) as repo:
            result = repo.transaction(
                "staging",
                lambda given: edit(open_tree(given, "staging")),
                "m",
                in_memory=in_memory,
                dry_run=True,
            )
            trees.append((result.diff, git("write-tree", cwd=repo.worktree)))
    assert trees[0] == trees[1]


def test_writing_back_the_same_bytes_is_unchanged(remote: Path) -> None:
    before = git("rev-parse", "main", cwd=remote)

    def edit(tree: BlobTree) -> ChangeSet:
        files = open_tree(tree, "main")
        files.write_text("values.yaml", files.read_text("values.yaml"))
        return ChangeSet(["same"], ["values.yaml"])

    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        result = repo.transaction("main", edit, "same", in_memory=True)
    assert (result.status, result.commit, result.diff) == ("unchanged", None, "")
    assert git("rev-parse", "main", cwd=remote) == before


def test_dry_run_returns_the_diff_and_pushes_nothing(remote: Path) -> None:
    before = git("rev-parse", "main", cwd=remote)

    def edit(tree: BlobTree) -> ChangeSet:
        open_tree(tree, "main").write_text("values.yaml", "app: new\n")
        return ChangeSet(["e"], ["values.yaml"])

    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        result = repo.transaction("main", edit, "m", dry_run=True, in_memory=True)
    assert result.status == "dry-run"
    assert "-app: old\n+app: new\n" in result.diff
    assert git("rev-parse", "main", cwd=remote) == before


def test_a_lost_race_reruns_the_edit_on_the_new_head(remote: Path) -> None:
    seen: list[str] = []

    def racing(tree: BlobTree) -> ChangeSet:
        files = open_tree(tree, "main")
        seen.append(files.read_text("values.yaml"))
        if len(seen) == 1:  # someone else pushes between our fetch and our push
            with EnvRepo(str(remote)) as other:
                other.transaction("main", _write("values.yaml", "app: theirs\n"), "theirs", in_memory=True)
        files.write_text("apps/api/values.yaml", "tag: ours\n")
        return ChangeSet(["ours"], ["apps/api/values.yaml"])

    with EnvRepo(str(remote), sparse=["values.yaml", "apps/api/values.yaml"]) as repo:
        result = repo.transaction("main", racing, "ours", in_memory=True)
    assert result.attempts == 2
    assert seen == ["app: old\n", "app: theirs\n"]
    assert read_remote_file(remote, "main", "values.yaml") == "app: theirs"
    assert read_remote_file(remote, "main", "apps/api/values.yaml") == "tag: ours"
    assert git("rev-parse", "main^", cwd=remote) == result.base_commit
    assert git("rev-list", "--merges", "main", cwd=remote) == ""


def test_gives_up_when_every_attempt_loses(remote: Path) -> None:
    counter = iter(range(100))

    def always_loses(tree: BlobTree) -> ChangeSet:
        with EnvRepo(str(remote)) as other:
            other.transaction("main", _write("docs/readme.md", f"{next(counter)}\n"), "x", in_memory=True)
        return _write("values.yaml", "app: mine\n")(tree)

    with EnvRepo(str(remote)) as repo, pytest.raises(ConcurrencyError):
        repo.transaction("main", always_loses, "mine", max_attempts=2, in_memory=True)
    assert "mine" not in read_remote_file(remote, "main", "values.yaml")


def test_approval_branch_is_rebuilt_from_its_base_and_not_churned(remote: Path) -> None:
    branch = "promoter/promote-staging-to-main"
    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        kwargs: dict[str, Any] = {"base": "main", "create": True, "force_with_lease": True, "in_memory": True}
        first = repo.transaction(branch, _write("values.yaml", "app: v2\n"), "v2", **kwargs)
        again = repo.transaction(branch, _write("values.yaml", "app: v2\n"), "v2", **kwargs)
        other = repo.transaction(branch, _write("values.yaml", "app: v3\n"), "v3", **kwargs)
    assert first.status == "changed" and other.status == "changed"
    assert (again.status, again.commit, again.diff) == ("unchanged", first.commit, first.diff)
    assert git("rev-parse", f"{branch}^", cwd=remote) == git("rev-parse", "main", cwd=remote)
    assert read_remote_file(remote, branch, "values.yaml") == "app: v3"


def test_a_checkout_after_an_in_memory_edit_sees_the_new_head(remote: Path) -> None:
    """The working tree of a clone used in memory is stale; a later checkout must not trust it."""
    with EnvRepo(str(remote), sparse=["values.yaml"]) as repo:
        repo.transaction("main", _write("values.yaml", "app: memory\n"), "a", in_memory=True)

        def on_disk(worktree: Path) -> ChangeSet:
            assert (worktree / "values.yaml").read_text() == "app: memory\n"
            (worktree / "values.yaml").write_text("app: disk\n")
            return ChangeSet(["b"], ["values.yaml"])

        result = repo.transaction("main", on_disk, "b")
    assert result.status == "changed"
    assert read_remote_file(remote, "main", "values.yaml") == "app: disk"
    assert git("rev-list", "--count", "main", cwd=remote) == "4"


def test_blobs_are_read_in_one_batch_and_a_missing_one_is_an_error(remote: Path) -> None:
    with EnvRepo(str(remote)) as repo:
        texts = repo.read_files(
            "main", ["values.yaml", "apps/api/values.yaml", "apps/web/values.yaml", "nope"]
        )
        assert texts == {
            "values.yaml": "app: old\n",
            "apps/api/values.yaml": "tag: 1\n",
            "apps/web/values.yaml": "tag: 2\r\nname: web\r\n",
            "nope": None,
        }
        written = repo.clone.write_blobs([b"one\n", b"", b"one\n", b"\x00binary"])
        assert written[0] == written[2]
        assert written == [_hash(data) for data in (b"one\n", b"", b"one\n", b"\x00binary")]
        assert repo.clone.blobs(written) == {written[0]: b"one\n", written[1]: b"", written[3]: b"\x00binary"}
        with pytest.raises(PromoterError, match="not available"):
            repo.clone.blobs(["0" * 40])


def test_reading_next_to_a_link_is_fine_reading_through_one_is_refused(remote: Path) -> None:
    with EnvRepo(str(remote)) as repo:
        assert repo.read_files("main", ["apps/api/values.yaml"]) == {"apps/api/values.yaml": "tag: 1\n"}
        with pytest.raises(PromoterError, match="linked-dir is a symbolic link"):
            repo.read_files("main", ["linked-dir/passwd"])
        with pytest.raises(PromoterError, match="apps/link is a symbolic link"):
            repo.read_files("main", ["apps/link"])


def _write(path: str, text: str) -> Callable[[BlobTree], ChangeSet]:
    def edit(tree: BlobTree) -> ChangeSet:
        open_tree(tree, "main").write_text(path, text)
        return ChangeSet([path], [path])

    return edit


def _hash(data: bytes) -> str:
    done = subprocess.run(["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True)
    return done.stdout.decode().strip()
