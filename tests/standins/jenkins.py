"""A stand-in for the part of Jenkins' remote access API that jenkinsapi uses to
trigger a parameterised job and follow it: ``/api/python`` (answered as JSON, which
jenkinsapi reads first), ``/crumbIssuer``, ``buildWithParameters`` -> a queue item ->
an executable build -> its result.

A job's outcome is scripted: ``add_job(name, result="SUCCESS", duration=0.2,
queue_delay=0.1)``; a parameter named ``STANDIN_RESULT`` overrides the result of one
build, so a test can drive both outcomes through one job.
"""

from __future__ import annotations

import base64
import time

from tests.standins.http import HttpError, Request, Standin

HTML_401 = (
    b"<html><head><title>Error 401 Unauthorized</title></head><body><h2>HTTP ERROR 401 Unauthorized</h2>"
    b"<p>Invalid password/token for user</p></body></html>"
)


class JenkinsStandin(Standin):
    kind = "jenkins"

    def __init__(self, *, user: str = "ci-bot", token: str = "11aa22bb33cc44dd55ee66ff77", state_file=None):
        super().__init__(state_file=state_file)
        with self.lock:
            self.state.setdefault("users", {})[user] = token
            self.state.setdefault("jobs", {})
            self.state.setdefault("queue", {})
        self.user, self.token = user, token

    # ------------------------------------------------------------------ seeding / accessors
    def add_job(self, name: str, *, params: dict[str, str] | None = None, result: str = "SUCCESS",
                duration: float = 0.2, queue_delay: float = 0.1) -> None:
        """A parameterised job (``params``: name -> default) whose builds end with ``result``."""
        with self.lock:
            self.state["jobs"][name] = {"params": params if params is not None else {"MODEL": ""}, "result": result,
                                        "duration": duration, "queue_delay": queue_delay, "builds": []}
        self.dump_state()

    def builds(self, name: str) -> list[dict]:
        with self.lock:
            return [dict(b) for b in self.state["jobs"][name]["builds"]]

    # ------------------------------------------------------------------ internals
    def authenticate(self, req: Request) -> str:
        scheme, _, value = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                user, secret = "", ""
            if self.state["users"].get(user) == secret and secret:
                return user
        raise HttpError(401, HTML_401, {"Content-Type": "text/html;charset=utf-8",
                                        "WWW-Authenticate": 'Basic realm="Jenkins"'})

    def not_found(self, req: Request) -> HttpError:
        return HttpError(404, b"<html><body><h2>HTTP ERROR 404 Not Found</h2></body></html>",
                         {"Content-Type": "text/html;charset=utf-8"})

    def _job(self, req) -> tuple[str, dict]:
        name = req.param("job")
        job = self.state["jobs"].get(name)
        if job is None:
            raise self.not_found(req)
        return name, job

    def _advance(self) -> None:
        """Move queue items to builds and builds to results as their time comes."""
        now = time.time()
        for qid, item in self.state["queue"].items():
            job = self.state["jobs"][item["job"]]
            if item["build"] is None and now >= item["queued_at"] + job["queue_delay"]:
                number = len(job["builds"]) + 1
                result = item["params"].get("STANDIN_RESULT") or job["result"]
                job["builds"].append({"number": number, "params": item["params"], "started_at": now,
                                      "ends_at": now + job["duration"], "final": result, "queue_id": int(qid)})
                item["build"] = number

    def _build_state(self, b: dict) -> tuple[bool, str | None]:
        done = time.time() >= b["ends_at"]
        return (not done), (b["final"] if done else None)

    def _job_json(self, base, name, job):
        url = f"{base}/job/{name}/"
        builds = [{"_class": "hudson.model.FreeStyleBuild", "number": b["number"], "url": f"{url}{b['number']}/"}
                  for b in reversed(job["builds"])]
        queued = [qid for qid, q in self.state["queue"].items() if q["job"] == name and q["build"] is None]
        defs = [{"_class": "hudson.model.StringParameterDefinition", "name": k, "type": "StringParameterDefinition",
                 "description": "", "defaultParameterValue": {"_class": "hudson.model.StringParameterValue", "name": k,
                                                              "value": v}} for k, v in job["params"].items()]
        prop = [{"_class": "hudson.model.ParametersDefinitionProperty", "parameterDefinitions": defs}] if defs else []
        return {
            "_class": "hudson.model.FreeStyleProject", "name": name, "fullName": name, "displayName": name,
            "description": "", "url": url, "buildable": True, "color": "blue", "builds": builds, "allBuilds": builds,
            "firstBuild": builds[-1] if builds else None, "lastBuild": builds[0] if builds else None,
            "lastCompletedBuild": None, "inQueue": bool(queued),
            "queueItem": {"id": int(queued[0]), "url": f"queue/item/{queued[0]}/"} if queued else None,
            "nextBuildNumber": len(job["builds"]) + 1, "actions": [{}], "property": prop, "healthReport": [],
            "keepDependencies": False, "concurrentBuild": False,
        }

    # ------------------------------------------------------------------ routes
    def register_routes(self) -> None:
        J = r"/job/(?P<job>[^/]+)"
        for method, pattern, handler in [
            ("GET", r"/api/(?:python|json)", self.h_root),
            ("GET", r"/crumbIssuer/api/(?:python|json)", self.h_crumb),
            ("GET", J + r"/api/(?:python|json)", self.h_job),
            ("POST", J + r"/buildWithParameters", self.h_trigger),
            ("POST", J + r"/build", self.h_trigger),
            ("GET", r"/queue/item/(?P<qid>\d+)/api/(?:python|json)", self.h_queue_item),
            ("GET", J + r"/(?P<n>\d+)/api/(?:python|json)", self.h_build),
            ("GET", J + r"/(?P<n>\d+)/consoleText", self.h_console),
        ]:
            self.route(method, pattern, handler)
            self.route(method, pattern.replace("/api/(?:python|json)", "/api/(?:python|json)/"), handler)

    def h_root(self, req):
        self._advance()
        return 200, {"_class": "hudson.model.Hudson", "mode": "NORMAL", "nodeName": "", "quietingDown": False,
                     "url": f"{req.base_url}/", "useCrumbs": True,
                     "jobs": [{"_class": "hudson.model.FreeStyleProject", "name": n, "url": f"{req.base_url}/job/{n}/",
                               "color": "blue"} for n in self.state["jobs"]]}, {}

    def h_crumb(self, req):
        return 200, {"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": "standin-crumb",
                     "crumbRequestField": "Jenkins-Crumb"}, {}

    def h_job(self, req):
        self._advance()
        name, job = self._job(req)
        return 200, self._job_json(req.base_url, name, job), {}

    def h_trigger(self, req):
        name, job = self._job(req)
        if req.headers.get("Jenkins-Crumb") != "standin-crumb":
            raise HttpError(403, b"<html><body>No valid crumb was included in the request</body></html>",
                            {"Content-Type": "text/html"})
        form = req.body if isinstance(req.body, dict) else {}
        params = {k: v for k, v in form.items() if k != "json"}
        unknown = sorted(set(params) - set(job["params"]) - {"STANDIN_RESULT"})
        if unknown:
            # Jenkins silently ignores undeclared parameters; record them so tests can see that.
            params = {k: v for k, v in params.items() if k not in unknown}
        params = {**job["params"], **params}
        qid = self.new_id()
        self.state["queue"][str(qid)] = {"job": name, "params": params, "queued_at": time.time(), "build": None,
                                         "ignored": unknown}
        return 201, b"", {"Location": f"{req.base_url}/queue/item/{qid}/"}

    def h_queue_item(self, req):
        self._advance()
        qid = req.match.group("qid")
        item = self.state["queue"].get(qid)
        if item is None:
            raise self.not_found(req)
        job_url = f"{req.base_url}/job/{item['job']}/"
        data = {"_class": "hudson.model.Queue$WaitingItem", "id": int(qid), "blocked": False, "buildable": False,
                "cancelled": False, "stuck": False, "why": "In the quiet period.", "inQueueSince": int(item["queued_at"] * 1000),
                "params": "".join(f"\n{k}={v}" for k, v in item["params"].items()),
                "task": {"_class": "hudson.model.FreeStyleProject", "name": item["job"], "url": job_url, "color": "blue"},
                "actions": [{"parameters": [{"name": k, "value": v} for k, v in item["params"].items()]}],
                "executable": None}
        if item["build"] is not None:
            data.update({"_class": "hudson.model.Queue$LeftItem", "why": None,
                         "executable": {"_class": "hudson.model.FreeStyleBuild", "number": item["build"],
                                        "url": f"{job_url}{item['build']}/"}})
        return 200, data, {}

    def _build(self, req):
        name, job = self._job(req)
        n = int(req.match.group("n"))
        if not 1 <= n <= len(job["builds"]):
            raise self.not_found(req)
        return name, job["builds"][n - 1]

    def h_build(self, req):
        self._advance()
        name, b = self._build(req)
        building, result = self._build_state(b)
        return 200, {
            "_class": "hudson.model.FreeStyleBuild", "number": b["number"], "id": str(b["number"]),
            "url": f"{req.base_url}/job/{name}/{b['number']}/", "building": building, "result": result,
            "duration": 0 if building else int((b["ends_at"] - b["started_at"]) * 1000),
            "estimatedDuration": 1000, "timestamp": int(b["started_at"] * 1000), "queueId": b["queue_id"],
            "fullDisplayName": f"{name} #{b['number']}", "displayName": f"#{b['number']}", "builtOn": "",
            "keepLog": False, "description": None, "artifacts": [], "culprits": [],
            "changeSet": {"_class": "hudson.scm.EmptyChangeLogSet", "items": [], "kind": None},
            "actions": [{"_class": "hudson.model.ParametersAction",
                         "parameters": [{"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                                        for k, v in b["params"].items()]}],
        }, {}

    def h_console(self, req):
        name, b = self._build(req)
        building, result = self._build_state(b)
        text = f"Started by remote API\nBuilding {name} #{b['number']}\n" + ("" if building else f"Finished: {result}\n")
        return 200, text.encode(), {"Content-Type": "text/plain;charset=utf-8"}
