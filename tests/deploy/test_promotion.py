"""Verified promotion and rollback pull requests, through the real CLI on a real git repo
with the local forge: evidence from statuses, refusals, one open pull request per env."""

from __future__ import annotations

import json
import subprocess

import pytest

from llm_gitops.deploy.desired import releases_dir
from llm_gitops.deploy.promotion import record_verified
from llm_gitops.forges.registry import make_forge
from llm_gitops.release.record import GateEvidence, Release, write_release
from tests.corpus.harness import expect_clean_error, run_cli

CONFIG = """\
version: 1
environments:
  staging: {target: docker}
  prod: {target: docker, requires: staging}
  solo: {target: docker}
"""


def git(root, *args):
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=dev", "-c", "user.email=dev@example.com", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def make_release(n: int, em: float) -> Release:
    return Release(image=f"127.0.0.1:5000/adder@sha256:{n:064x}", model_digest=f"sha256:{n:064x}", model_source="./m",
                   quantization="int8-dynamic", source_commit=None, built_at="2026-12-02T00:00:00Z",
                   gate=GateEvidence("sha256:" + "0" * 64, "pass", "pass", {"add_em/exact_match": em}))


@pytest.fixture()
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "deploy").mkdir(parents=True)
    (root / ".llm-gitops.yaml").write_text(CONFIG)
    r1, r2 = make_release(1, 0.95), make_release(2, 0.98)
    for r in (r1, r2):
        write_release(r, releases_dir(root))
    (root / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {r1.id}\n")
    (root / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {r1.id}\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root, r1, r2


def set_staging(root, release):
    (root / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {release.id}\n")
    git(root, "commit", "-qam", f"staging -> {release.id}")


def test_promotion_needs_verification_then_opens_one_pull_request(repo):
    root, r1, r2 = repo
    forge = make_forge("local")
    set_staging(root, r2)
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, watch=root / "deploy",
                       culprit=[r2.id, "not verified in staging"], surface="deploy", case="unverified")
    # What the staging deploy job records once staging runs r2.
    record_verified(forge, str(root), root, "staging", r2.id)
    run = run_cli(["promote", "--to", "prod", "--forge", "local"], cwd=root)
    assert run.code == 0, run.err
    assert "pull request #1 opened" in run.err and "add_em/exact_match: 0.95 -> 0.98 (+0.03)" in run.err
    assert forge.read_file(str(root), "deploy/prod.yaml", "llm-gitops/promote-prod").decode().count(r2.id) == 1
    assert (root / "deploy" / "prod.yaml").read_text().count(r1.id) == 1  # nothing changes until the merge
    pr = forge.find_open_pull_request(str(root), "llm-gitops/promote-prod", "main")
    forge.merge_pull_request(pr.ref)
    assert r2.id in (root / "deploy" / "prod.yaml").read_text()
    again = run_cli(["promote", "--to", "prod", "--forge", "local"], cwd=root)
    assert again.code == 0 and "nothing to promote" in again.err


def test_a_newer_verified_release_updates_the_open_pull_request(repo):
    root, r1, r2 = repo
    forge = make_forge("local")
    r3 = make_release(3, 0.99)
    write_release(r3, releases_dir(root))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "r3")
    for release in (r2, r3):
        set_staging(root, release)
        record_verified(forge, str(root), root, "staging", release.id)
        assert run_cli(["promote", "--to", "prod", "--forge", "local"], cwd=root).code == 0
    pr = forge.find_open_pull_request(str(root), "llm-gitops/promote-prod", "main")
    assert pr.ref.number == 1  # still the one pull request
    assert r3.id in forge.read_file(str(root), "deploy/prod.yaml", "llm-gitops/promote-prod").decode()


def test_stale_failed_hold_and_missing_upstream_are_refused(repo):
    root, r1, r2 = repo
    forge = make_forge("local")
    record_verified(forge, str(root), root, "staging", r1.id)
    set_staging(root, r2)
    # The status is on the old commit; the new one has none yet.
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, culprit="not verified",
                       surface="deploy", case="moved on")
    sha = git(root, "rev-parse", "HEAD")
    forge.set_commit_status(str(root), sha, "success", "llm-gitops/verified/staging", r1.id)
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, culprit="verification is stale",
                       surface="deploy", case="stale")
    forge.set_commit_status(str(root), sha, "failure", "llm-gitops/verified/staging", r2.id)
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, culprit="failed verification",
                       surface="deploy", case="failed")
    forge.set_commit_status(str(root), sha, "success", "llm-gitops/verified/staging", r2.id)
    (root / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {r1.id}\nhold: true\nhold_reason: incident 42\n")
    git(root, "commit", "-qam", "hold prod")
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, culprit="prod is on hold: incident 42",
                       surface="deploy", case="hold")
    expect_clean_error(["promote", "--to", "solo", "--forge", "local"], cwd=root, culprit="no upstream environment",
                       surface="deploy", case="no upstream")
    expect_clean_error(["promote", "--to", "nope", "--forge", "local"], cwd=root, culprit="--to nope",
                       surface="deploy", case="unknown env")
    assert forge.find_open_pull_request(str(root), "llm-gitops/promote-prod", "main") is None


def test_an_edited_release_file_cannot_be_promoted(repo):
    root, r1, r2 = repo
    path = releases_dir(root) / f"{r2.id}.json"
    data = json.loads(path.read_text())
    data["image"] = "evil.example/adder@sha256:" + "f" * 64
    path.write_text(json.dumps(data))
    set_staging(root, r2)
    expect_clean_error(["promote", "--to", "prod", "--forge", "local"], cwd=root, culprit="does not match its id",
                       surface="deploy", case="edited release")


def test_verification_refuses_an_uncommitted_deploy_file(repo):
    root, r1, r2 = repo
    (root / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {r2.id}\n")
    from llm_gitops.errors import ConfigError

    with pytest.raises(ConfigError, match="uncommitted changes"):
        record_verified(make_forge("local"), str(root), root, "staging", r2.id)


def test_rollback_pull_request_writes_the_live_release_back(repo):
    from llm_gitops.deploy.promotion import open_rollback

    root, r1, r2 = repo
    forge = make_forge("local")
    (root / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {r2.id}\n")
    git(root, "commit", "-qam", "prod -> r2")
    pr, action = open_rollback(env="prod", root=root, release=r1, forge=forge, repo=str(root), base="main",
                               moved_from=r2.id)
    assert action == "opened" and "Roll back prod" in pr.title
    assert r1.id in forge.read_file(str(root), "deploy/prod.yaml", "llm-gitops/rollback-prod").decode()
