"""``llm-gitops jenkins trigger`` and ``trigger_job`` against a Jenkins stand-in, through jenkinsapi."""

from __future__ import annotations

import pytest

from llm_gitops.cli import main
from llm_gitops.errors import ExternalServiceError
from llm_gitops.forges.retry import RetryPolicy
from llm_gitops.jenkins import trigger_job
from tests.standins.forge import ForgeStandin

TOKEN = "11ffeeddccbbaa99887766554433"
FAST = RetryPolicy(base_delay=0.01, sleep=lambda s: None)


@pytest.fixture
def jenkins():
    standin = ForgeStandin.start(kind="jenkins", token=TOKEN)
    standin.add_job("deploy-model", params={"MODEL": "", "ENV": "staging"}, duration=0.1, queue_delay=0.05)
    yield standin
    standin.stop()


def run_cli(jenkins, monkeypatch, capsys, *args):
    monkeypatch.setenv("JENKINS_URL", jenkins.url)
    monkeypatch.setenv("JENKINS_USER", jenkins.user)
    monkeypatch.setenv("JENKINS_API_TOKEN", TOKEN)
    with pytest.raises(SystemExit) as exit_info:
        main(["jenkins", "trigger", *args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_success_passes_parameters_and_prints_url_and_result(jenkins, monkeypatch, capsys):
    code, out, err = run_cli(jenkins, monkeypatch, capsys, "deploy-model", "-p", "MODEL=adder@v2", "--poll-interval", "0.02")
    assert code == 0
    assert out.strip() == f"{jenkins.url}/job/deploy-model/1 SUCCESS"
    assert jenkins.builds("deploy-model")[0]["params"] == {"MODEL": "adder@v2", "ENV": "staging"}
    assert TOKEN not in out + err


@pytest.mark.parametrize("result", ["FAILURE", "UNSTABLE", "ABORTED"])
def test_unsuccessful_results_exit_1(jenkins, monkeypatch, capsys, result):
    code, out, err = run_cli(jenkins, monkeypatch, capsys, "deploy-model", "-p", f"STANDIN_RESULT={result}",
                             "--poll-interval", "0.02")
    assert code == 1 and out.strip().endswith(result) and f"ended {result}" in err


def test_unknown_job_exits_2(jenkins, monkeypatch, capsys):
    code, out, err = run_cli(jenkins, monkeypatch, capsys, "deploy-modle")
    assert code == 2 and "job 'deploy-modle' not found" in err


def test_bad_credentials_exit_2_without_the_token(jenkins, monkeypatch, capsys):
    monkeypatch.setenv("JENKINS_API_TOKEN", "wrong-token-0987654321")
    monkeypatch.setenv("JENKINS_URL", jenkins.url)
    monkeypatch.setenv("JENKINS_USER", jenkins.user)
    with pytest.raises(SystemExit) as exit_info:
        main(["jenkins", "trigger", "deploy-model"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "rejected the credentials (401)" in err and "JENKINS_API_TOKEN" in err
    assert "wrong-token-0987654321" not in err


def test_bad_param_is_usage_error(jenkins, monkeypatch, capsys):
    code, _, err = run_cli(jenkins, monkeypatch, capsys, "deploy-model", "-p", "NOEQUALS")
    assert code == 2 and "KEY=VALUE" in err


def test_no_wait_returns_the_queue_item(jenkins):
    build = trigger_job(url=jenkins.url, job="deploy-model", params={"ENV": "prod"}, username=jenkins.user,
                        api_token=TOKEN, wait=False, policy=FAST)
    assert build.number is None and build.queue_url.startswith(f"{jenkins.url}/queue/item/")


def test_timeout_is_a_clear_error(jenkins):
    jenkins.add_job("slow", duration=60)
    with pytest.raises(ExternalServiceError, match=r"did not finish within 0.3s"):
        trigger_job(url=jenkins.url, job="slow", params={}, username=jenkins.user, api_token=TOKEN, timeout=0.3,
                    poll_interval=0.02, policy=FAST)


def test_server_errors_are_retried(jenkins):
    jenkins.inject_errors(2, status=503, method="GET", path_contains="/queue/item/")
    build = trigger_job(url=jenkins.url, job="deploy-model", params={}, username=jenkins.user, api_token=TOKEN,
                        poll_interval=0.02, policy=FAST)
    assert build.result == "SUCCESS" and build.number == 1
    assert [r.status for r in jenkins.requests if "/queue/item/" in r.path][:3] == [503, 503, 200]


def test_help_shows_examples():
    from click.testing import CliRunner

    from llm_gitops.commands.jenkins import command

    result = CliRunner().invoke(command, ["trigger", "--help"])
    assert result.exit_code == 0 and "llm-gitops jenkins trigger deploy-model -p MODEL=adder" in result.output


def test_a_lost_trigger_answer_is_not_retried(jenkins):
    # The build is queued but the answer is lost: a retry would deploy twice.
    jenkins.inject_errors(1, status=502, method="POST", after=True)
    with pytest.raises(ExternalServiceError, match="triggering deploy-model"):
        trigger_job(url=jenkins.url, job="deploy-model", params={}, username=jenkins.user, api_token=TOKEN, policy=FAST)
    assert len([r for r in jenkins.requests if r.method == "POST"]) == 1
