"""The local forge on real git repositories: branches, pull requests, merges, statuses."""

from __future__ import annotations

import subprocess

import pytest

from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.base import FileChange, Forge, PullRequestRef
from llm_gitops.forges.registry import make_forge


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture()
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "deploy").mkdir()
    (root / "deploy" / "prod.yaml").write_text("release: v1\n")
    git(root, "add", "-A")
    git(root, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "init")
    return root


@pytest.fixture()
def forge():
    return make_forge("local", token=None)


def test_it_is_a_forge(forge):
    assert isinstance(forge, Forge)


def test_branch_pull_request_update_and_merge_into_the_checked_out_branch(repo, forge):
    r = str(repo)
    sha = forge.create_branch_with_changes(r, "llm-gitops/promote-prod", "main",
                                           [FileChange("deploy/prod.yaml", "release: v2\n")], "Promote v2")
    assert git(repo, "rev-parse", "llm-gitops/promote-prod") == sha
    assert (repo / "deploy" / "prod.yaml").read_text() == "release: v1\n"  # the working tree is untouched
    assert git(repo, "status", "--porcelain") == ""
    pr = forge.open_pull_request(r, "llm-gitops/promote-prod", "main", "Promote v2 to prod", "card")
    assert forge.find_open_pull_request(r, "llm-gitops/promote-prod", "main").ref == pr.ref
    forge.commit_changes(r, "llm-gitops/promote-prod", [FileChange("deploy/prod.yaml", "release: v3\n")], "v3")
    assert forge.read_file(r, "deploy/prod.yaml", "llm-gitops/promote-prod") == b"release: v3\n"
    assert forge.get_pull_request(pr.ref).head_sha == git(repo, "rev-parse", "llm-gitops/promote-prod")
    with pytest.raises(ExternalServiceError, match="already exists"):
        forge.create_branch_with_changes(r, "llm-gitops/promote-prod", "main", [], "again")

    merged = forge.merge_pull_request(pr.ref)
    assert git(repo, "rev-parse", "main") == merged
    assert (repo / "deploy" / "prod.yaml").read_text() == "release: v3\n"  # merged into the checkout, as git merge would
    assert forge.get_pull_request(pr.ref).state == "merged"
    assert forge.find_open_pull_request(r, "llm-gitops/promote-prod", "main") is None
    with pytest.raises(ExternalServiceError, match="not open"):
        forge.merge_pull_request(pr.ref)


def test_merge_into_a_branch_that_is_not_checked_out_leaves_the_worktree_alone(repo, forge):
    r = str(repo)
    git(repo, "branch", "release")
    git(repo, "checkout", "-q", "-b", "work")
    forge.create_branch_with_changes(r, "feature", "release", [FileChange("notes.txt", "hi\n")], "notes")
    pr = forge.open_pull_request(r, "feature", "release", "notes", "")
    forge.merge_pull_request(pr.ref)
    assert forge.read_file(r, "notes.txt", "release") == b"hi\n"
    assert not (repo / "notes.txt").exists() and git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "work"
    assert git(repo, "worktree", "list").count("\n") == 0  # the temporary worktree is gone


def test_a_dirty_checkout_refuses_the_merge(repo, forge):
    r = str(repo)
    forge.create_branch_with_changes(r, "b", "main", [FileChange("deploy/prod.yaml", "release: v2\n")], "v2")
    pr = forge.open_pull_request(r, "b", "main", "v2", "")
    (repo / "deploy" / "prod.yaml").write_text("release: edited\n")
    with pytest.raises(ExternalServiceError, match="uncommitted changes"):
        forge.merge_pull_request(pr.ref)
    assert forge.get_pull_request(pr.ref).state == "open"


def test_statuses_comments_and_their_storage_outside_the_tree(repo, forge):
    r = str(repo)
    head = git(repo, "rev-parse", "HEAD")
    forge.set_commit_status(r, head, "pending", "llm-gitops/verified/staging", "r-000000000001")
    forge.set_commit_status(r, head, "success", "llm-gitops/verified/staging", "r-000000000001")
    (status,) = forge.get_commit_statuses(r, head)
    assert (status.state, status.description) == ("success", "r-000000000001")
    with pytest.raises(ExternalServiceError, match="no commit"):
        forge.set_commit_status(r, "f" * 40, "success", "x", "y")
    forge.create_branch_with_changes(r, "b", "main", [], "empty")
    pr = forge.open_pull_request(r, "b", "main", "t", "")
    first = forge.upsert_sticky_comment(pr.ref, "card v1", ("promote", "prod"))
    second = forge.upsert_sticky_comment(pr.ref, "card v2", ("promote", "prod"))
    assert (first.action, second.action) == ("created", "updated") and first.comment.id == second.comment.id
    assert git(repo, "status", "--porcelain") == ""  # records live in the git dir, not in any commit
    with pytest.raises(ExternalServiceError, match="not found"):
        forge.get_pull_request(PullRequestRef(r, 99))


def test_not_a_repository_is_a_clear_error(tmp_path, forge):
    with pytest.raises(ExternalServiceError, match="is not a git repository"):
        forge.get_commit_statuses(str(tmp_path), "0" * 40)


def test_a_pull_request_merged_with_plain_git_reads_as_merged(repo, forge):
    r = str(repo)
    forge.create_branch_with_changes(r, "b", "main", [FileChange("deploy/prod.yaml", "release: v2\n")], "v2")
    pr = forge.open_pull_request(r, "b", "main", "v2", "")
    git(repo, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "merge", "-q", "--no-edit", "b")
    assert forge.get_pull_request(pr.ref).state == "merged"
    assert forge.find_open_pull_request(r, "b", "main") is None
