"""Credentials in a forge URL (``http://user:password@host``) never reach stdout, stderr,
a log line, a report file or the comment, whichever variable carries the URL."""

from __future__ import annotations

import pytest

from llm_gitops.logsafe import redact, strip_userinfo, url_without_userinfo

PASSWORD = "Pl41nPassw0rd"


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://deploy:{PASSWORD}@", 1)


def _everything_written(site, run) -> str:
    files = [p.read_text(errors="replace") for p in site.repo_dir.rglob("*") if p.is_file()]
    comments = [c["body"] for c in site.comments()]
    return "\n".join([run.out, run.err, *files, *comments])


@pytest.mark.parametrize("site,variable", [("github", "GITHUB_API_URL"), ("github", "LLM_GITOPS_GITHUB_API_URL"),
                                           ("gitlab", "CI_API_V4_URL"), ("gitlab", "LLM_GITOPS_GITLAB_URL")],
                         indirect=["site"])
@pytest.mark.parametrize("verbosity", [(), ("-vv",)])
def test_no_password_anywhere(site, variable, verbosity):
    url = site.env.get(variable) or (site.env["CI_API_V4_URL"] if site.kind == "gitlab" else site.env["GITHUB_API_URL"])
    run = site.gate(*verbosity, **{variable: _with_credentials(url)})
    assert run.code in (0, 2), run.err  # posted, or refused with one line; never a crash
    assert "Traceback" not in run.err
    text = _everything_written(site, run)
    assert PASSWORD not in text
    assert "report posted: http://127.0.0.1:" in run.err  # a working link, without the credentials


def test_a_password_retried_against_a_failing_forge_is_hidden_in_warnings(site):
    site.standin.inject_errors(2)
    variable = "GITHUB_API_URL" if site.kind == "github" else "CI_API_V4_URL"
    run = site.gate("-v", **{variable: _with_credentials(site.env[variable])})
    assert PASSWORD not in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("text,expected", [
    ("GitHub at http://u:p4ssword@127.0.0.1:80/api failed", "GitHub at http://***@127.0.0.1:80/api failed"),
    ("https://u:p@ss@host/a@b", "https://***@host/a@b"),
    ("mlflow at https://TOKEN@mlflow.example/x and http://h/", "mlflow at https://***@mlflow.example/x and http://h/"),
    ("sqlite:///tmp/mlflow.db", "sqlite:///tmp/mlflow.db"),
    ("git@github.com:acme/adder.git", "git@github.com:acme/adder.git"),
    ("see http://host/a?x=y@z", "see http://host/a?x=y@z"),
    ("docker://user:pw@registry:5000/img", "docker://***@registry:5000/img"),
])
def test_userinfo_is_stripped_from_every_url_in_a_text(text, expected):
    assert strip_userinfo(text) == expected
    assert redact(text) == expected


def test_a_link_loses_its_credentials_and_keeps_working():
    assert url_without_userinfo("http://u:p@127.0.0.1:8080/a?b#c") == "http://127.0.0.1:8080/a?b#c"
    assert url_without_userinfo("https://host/x") == "https://host/x"


@pytest.mark.parametrize("env,expected", [
    ({"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "a/b", "GITHUB_SERVER_URL": "https://u:pw@ghe.example",
      "GITHUB_RUN_ID": "9"}, "https://ghe.example/a/b/actions/runs/9"),
    ({"GITLAB_CI": "true", "CI_PROJECT_PATH": "g/p", "CI_PIPELINE_URL": "https://u:pw@gl.example/g/p/-/pipelines/3"},
     "https://gl.example/g/p/-/pipelines/3"),
    ({"JENKINS_URL": "https://j.example", "BUILD_URL": "https://u:pw@j.example/job/x/1/"},
     "https://j.example/job/x/1/"),
])
def test_the_run_link_on_a_status_carries_no_credentials(env, expected):
    from llm_gitops.ci_context import detect

    assert detect(env).run_url == expected


def test_a_logged_traceback_is_redacted_too(capsys):
    import logging

    from llm_gitops.logsafe import install_redaction

    logger = logging.getLogger("tests.url_credentials")
    handler = logging.StreamHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_redaction()
        try:
            raise ConnectionError(f"cannot reach http://deploy:{PASSWORD}@127.0.0.1:9/api")
        except ConnectionError:
            logger.error("posting failed", exc_info=True)
    finally:
        root.removeHandler(handler)
    err = capsys.readouterr().err
    assert "posting failed" in err and "ConnectionError: cannot reach http://***@127.0.0.1:9/api" in err
    assert PASSWORD not in err


@pytest.mark.parametrize("text,secret", [
    ("cannot reach http://127.0.0.1:9/v1?api_key=s3cretQ1 (refused)", "s3cretQ1"),
    ("GET https://bucket.example/o?X-Amz-Date=1&X-Amz-Signature=abc123def", "abc123def"),
    ("http://127.0.0.1:9/?access_token=tok-9876#frag", "tok-9876"),
])
def test_a_secret_named_query_parameter_is_redacted(text, secret):
    from llm_gitops.logsafe import redact

    clean = redact(text)
    assert secret not in clean and "=***" in clean
    # Other parameters stay readable.
    assert redact("http://h/?page=2&sort=key") == "http://h/?page=2&sort=key"
