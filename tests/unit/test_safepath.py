"""SafeTree: paths resolved component by component, never through a link, never outside the tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promoter.errors import InputError, UnsafeTargetError
from promoter.safepath import Entry, SafeTree, local_file


@pytest.fixture
def tree(tmp_path: Path) -> SafeTree:
    root = tmp_path / "work"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "api.yaml").write_text("a: 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("secret: 1\n")
    (root / "linked-dir").symlink_to(outside)
    (root / "apps" / "linked.yaml").symlink_to(outside / "secret.yaml")
    return SafeTree(root, label="main")


@pytest.mark.parametrize(
    "path", ["../outside/secret.yaml", "/etc/passwd", "apps/../../x", "a\0b", "a\\b", ""]
)
def test_escapes_are_refused(tree: SafeTree, path: str) -> None:
    with pytest.raises(UnsafeTargetError, match=r"outside the repository|names the repository"):
        tree.read_bytes(path)
    with pytest.raises(UnsafeTargetError):
        tree.write_text(path, "x")


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("apps/linked.yaml", "apps/linked.yaml"),
        ("linked-dir/secret.yaml", "linked-dir"),
        ("linked-dir", "linked-dir"),
    ],
)
def test_links_are_refused_for_every_operation(tree: SafeTree, tmp_path: Path, path: str, link: str) -> None:
    message = f"unsafe target: {link} is a symbolic link"
    for operation in (
        lambda: tree.read_bytes(path),
        lambda: tree.write_text(path, "x: 2\n"),
        lambda: tree.unlink(path),
        lambda: tree.exists(path),
        lambda: tree.check(path),
    ):
        with pytest.raises(UnsafeTargetError, match=message) as caught:
            operation()
        assert caught.value.where == f"main:{link}"
        assert caught.value.exit_code == 3
    assert (tmp_path / "outside" / "secret.yaml").read_text() == "secret: 1\n"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["secret.yaml"]


def test_a_link_below_a_new_directory_is_refused_before_writing(tree: SafeTree, tmp_path: Path) -> None:
    with pytest.raises(UnsafeTargetError):
        tree.write_text("linked-dir/new/file.yaml", "x")
    assert not (tmp_path / "outside" / "new").exists()


def test_read_write_unlink_and_list(tree: SafeTree) -> None:
    assert tree.read_text("apps/api.yaml") == "a: 1\n"
    assert tree.read_bytes("apps/missing.yaml") is None
    assert tree.read_bytes("missing/dir/file.yaml") is None
    os.chmod(tree.root / "apps" / "api.yaml", 0o640)
    tree.write_text("apps/api.yaml", "a: 2\r\n")
    assert (tree.root / "apps" / "api.yaml").read_bytes() == b"a: 2\r\n"
    assert (tree.root / "apps" / "api.yaml").stat().st_mode & 0o777 == 0o640
    tree.write_text("new/deep/file.yaml", "b: 1\n")
    assert (tree.root / "new" / "deep" / "file.yaml").read_text() == "b: 1\n"
    assert tree.list_dir("apps") == [Entry("api.yaml", "file"), Entry("linked.yaml", "link")]
    assert tree.list_dir("absent") == []
    tree.unlink("apps/api.yaml")
    tree.unlink("apps/api.yaml")  # absent is fine
    assert not (tree.root / "apps" / "api.yaml").exists()
    assert not [p for p in tree.root.rglob("*.promoter-tmp")]


def test_read_errors_name_the_repository_path(tree: SafeTree) -> None:
    (tree.root / "bad.yaml").write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InputError) as caught:
        tree.read_text("bad.yaml")
    assert caught.value.where == "main:bad.yaml:2"
    with pytest.raises(InputError, match=r"file not found: main:nope\.yaml"):
        tree.read_text("nope.yaml")
    with pytest.raises(InputError, match="expected a file, found a directory"):
        tree.read_text("apps")


def test_local_file_checks_what_the_user_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "values.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real" / "values.yaml")
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    assert local_file("real/values.yaml") == Path("real/values.yaml")
    for path in ("link.yaml", "linkdir/values.yaml", str(tmp_path / "link.yaml")):
        with pytest.raises(UnsafeTargetError, match="is a symbolic link") as caught:
            local_file(path)
        assert "--follow-symlinks" in (caught.value.hint or "")
    assert local_file("linkdir/values.yaml", follow_symlinks=True) == tmp_path / "real" / "values.yaml"
