"""Start a forge stand-in in-process, or as a process that CI runners' jobs can reach.

In-process::

    forge = ForgeStandin.start(kind="github", token="t0ken-for-tests")
    forge.add_repo("acme/models"); n = forge.add_pull("acme/models")
    ...  # point GITHUB_API_URL at forge.url
    forge.stop()

As a process (prints ``URL`` on its first stdout line, then serves until SIGTERM/SIGINT;
every change is written to the state file, which also seeds it when it exists)::

    python -m tests.standins.forge --kind github --port 0 --state-file state.json \
        --token T --seed-repo acme/models --seed-pull acme/models:feature
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tests.standins.github import GitHubStandin
from tests.standins.gitlab import GitLabStandin
from tests.standins.jenkins import JenkinsStandin

KINDS = {"github": GitHubStandin, "gitlab": GitLabStandin, "jenkins": JenkinsStandin}


class ForgeStandin:
    """Factory: ``ForgeStandin.start(kind=..., token=...)`` returns a started stand-in."""

    @staticmethod
    def start(kind: str = "github", token: str | None = None, *, port: int = 0, state_file=None, **kwargs):
        cls = KINDS[kind]
        if token is not None:
            kwargs["token"] = token
        return cls(state_file=state_file, **kwargs).start(port=port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standins.forge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=sorted(KINDS), default="github")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=None, help="the token clients must send")
    parser.add_argument("--state-file", default=None, help="JSON state: loaded at start when present, rewritten on change")
    parser.add_argument("--url-file", default=None, help="also write the URL here (for callers that can't read stdout)")
    parser.add_argument("--seed-repo", action="append", default=[], help="github: OWNER/REPO; gitlab: GROUP/PROJECT")
    parser.add_argument("--seed-pull", action="append", default=[], help="REPO:BRANCH opens a PR/MR from BRANCH")
    parser.add_argument("--seed-permission", action="append", default=[], help="REPO:USER:ROLE")
    args = parser.parse_args(argv)

    kwargs = {"token": args.token} if args.token else {}
    if args.kind == "jenkins":
        standin = JenkinsStandin(state_file=args.state_file, **kwargs)
    else:
        standin = KINDS[args.kind](state_file=args.state_file, **kwargs)
    for repo in args.seed_repo:
        if args.kind == "github" and repo not in standin.state.get("repos", {}):
            standin.add_repo(repo)
        elif args.kind == "gitlab" and not any(p["path"] == repo for p in standin.state.get("projects", {}).values()):
            standin.add_project(repo)
    for spec in args.seed_pull:
        repo, _, branch = spec.rpartition(":")
        if args.kind == "github":
            standin.add_pull(repo, head=branch)
        else:
            standin.add_merge_request(repo, source=branch)
    for spec in args.seed_permission:
        repo, user, role = spec.rsplit(":", 2)
        (standin.set_permission if args.kind == "github" else standin.set_access)(repo, user, role)

    standin.start(host=args.host, port=args.port)
    print(standin.url, flush=True)
    if args.url_file:
        with open(args.url_file, "w") as fh:
            fh.write(standin.url + "\n")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
