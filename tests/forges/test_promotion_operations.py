"""The forge operations promotion needs, against each stand-in through the real client
library: update an existing branch, find the one open pull request from a branch, and
read a commit's statuses back (the verification evidence)."""

from __future__ import annotations

from llm_gitops.forges.base import FileChange


def test_commit_to_an_existing_branch_then_find_its_open_pull_request(h):
    h.forge.create_branch_with_changes(h.repo, "llm-gitops/promote-prod", "main",
                                       [FileChange("deploy/prod.yaml", "release: v2\n")], "Promote v2")
    assert h.forge.find_open_pull_request(h.repo, "llm-gitops/promote-prod", "main") is None
    opened = h.forge.open_pull_request(h.repo, "llm-gitops/promote-prod", "main", "Promote v2 to prod", "card")
    found = h.forge.find_open_pull_request(h.repo, "llm-gitops/promote-prod", "main")
    assert found is not None and found.ref == opened.ref
    sha = h.forge.commit_changes(h.repo, "llm-gitops/promote-prod", [FileChange("deploy/prod.yaml", "release: v3\n")],
                                 "Promote v3")
    assert h.s.branches(h.repo)["llm-gitops/promote-prod"] == sha
    assert h.forge.read_file(h.repo, "deploy/prod.yaml", "llm-gitops/promote-prod") == b"release: v3\n"
    assert h.forge.read_file(h.repo, "deploy/prod.yaml", "main") != b"release: v3\n"
    # Another branch's pull request is not "the" one.
    assert h.forge.find_open_pull_request(h.repo, "feature-x", "main") is None
    h.forge.merge_pull_request(opened.ref)
    assert h.forge.find_open_pull_request(h.repo, "llm-gitops/promote-prod", "main") is None


def test_statuses_read_back_newest_per_context_in_llm_gitops_states(h):
    h.forge.set_commit_status(h.repo, h.head_sha, "pending", "llm-gitops/verified/staging", "r-000000000001")
    h.forge.set_commit_status(h.repo, h.head_sha, "failure", "llm-gitops/verified/staging", "r-000000000001")
    h.forge.set_commit_status(h.repo, h.head_sha, "success", "llm-gitops/gate", "gate pass")
    statuses = h.forge.get_commit_statuses(h.repo, h.head_sha)
    verified = [s for s in statuses if s.context == "llm-gitops/verified/staging"]
    assert verified[0].state == "failure" and verified[0].description == "r-000000000001"
    assert len(verified) == 1  # the newest of its context, as GitHub's combined status gives it
    assert any(s.context == "llm-gitops/gate" and s.state == "success" for s in statuses)
