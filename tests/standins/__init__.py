"""Loopback stand-ins that speak the real protocols of GitHub's REST API, GitLab's v4
REST API and Jenkins' remote access API, with state, auth, fault injection and a
request log. Tests point the real clients (PyGithub, python-gitlab, jenkinsapi) at them.

    from tests.standins.forge import ForgeStandin
    gh = ForgeStandin.start(kind="github", token="test-token-123")   # .url, .stop(), .requests
    gh.add_repo("acme/models"); number = gh.add_pull("acme/models", head="feature")
    gh.inject_errors(2); gh.inject_rate_limit(1, retry_after=0.2); gh.inject_garbage(1)

Or as a process for CI runners' jobs: ``python -m tests.standins.forge --kind gitlab
--port 0 --state-file F --token T --seed-repo group/proj --seed-pull group/proj:feature``
(first stdout line: the URL; ``GET /_standin/state`` and the state file show what jobs did).
"""
