// Runs the Jenkins shared library's vars/ steps outside Jenkins, with the pipeline steps
// they use stubbed, and writes what happened as JSON for the Python tests to check.
//
//   groovy -cp jenkins/src tests/glue/jenkins/run_scenarios.groovy LIBRARY_ROOT SCENARIOS_JSON OUT_JSON
//
// A scenario: {"name", "step", "args", "workspace", "env": {...}, "credentials": {id: secret}}.
// `sh` really runs its script with bash, in the scenario's workspace, with the
// environment the pipeline would give it (withEnv entries, credential bindings), so the
// tests see the argv that reaches the CLI, not just the string handed to `sh`.
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

class PipelineError extends RuntimeException {
    PipelineError(String message) { super(message) }
}

class Run {
    File libraryRoot
    File workspace
    Map<String, String> pipelineEnv
    Map<String, String> credentials
    List<Map<String, String>> envStack = []
    List<Map> calls = []
    Binding binding = new Binding()

    Map<String, String> effectiveEnv() {
        Map<String, String> out = new LinkedHashMap<String, String>(System.getenv())
        out.putAll(pipelineEnv)
        for (Map<String, String> layer : envStack) {
            for (Map.Entry<String, String> e : layer.entrySet()) {
                if (e.key.startsWith('PATH+')) {
                    out['PATH'] = e.value + ':' + out['PATH']
                } else {
                    out[e.key] = e.value
                }
            }
        }
        return out
    }

    // Only the names of the variables that withEnv/withCredentials set, for the record.
    List<String> scopedNames() {
        List<String> names = []
        for (Map<String, String> layer : envStack) {
            names.addAll(layer.keySet())
        }
        return names
    }

    Object withLayer(Map<String, String> layer, Closure body) {
        envStack << layer
        try {
            return body.call()
        } finally {
            envStack.remove(envStack.size() - 1)
        }
    }

    int runShell(String script) {
        ProcessBuilder pb = new ProcessBuilder('bash', '-c', script)
        pb.directory(workspace)
        pb.redirectErrorStream(true)
        Map<String, String> env = pb.environment()
        env.clear()
        env.putAll(effectiveEnv())
        Process p = pb.start()
        String output = p.inputStream.text
        int rc = p.waitFor()
        System.err.print(output)
        return rc
    }

    void install() {
        Run self = this
        binding.setVariable('env', new LinkedHashMap(pipelineEnv))
        binding.setVariable('echo', { Object msg -> self.calls << [step: 'echo', message: msg.toString()] })
        binding.setVariable('error', { Object msg ->
            self.calls << [step: 'error', message: msg.toString()]
            throw new PipelineError(msg.toString())
        })
        binding.setVariable('pwd', { -> self.workspace.canonicalPath })
        binding.setVariable('libraryResource', { String path ->
            self.calls << [step: 'libraryResource', resource: path]
            new File(self.libraryRoot, 'resources/' + path).text
        })
        binding.setVariable('writeFile', { Map args ->
            self.calls << [step: 'writeFile', file: args.file]
            File f = new File(self.workspace, args.file.toString())
            f.parentFile.mkdirs()
            f.text = args.text.toString()
        })
        binding.setVariable('readFile', { Object arg ->
            String path = (arg instanceof Map) ? arg.file : arg
            new File(self.workspace, path).text
        })
        binding.setVariable('fileExists', { String path -> new File(self.workspace, path).exists() })
        binding.setVariable('readJSON', { Map args ->
            self.calls << [step: 'readJSON', file: args.file]
            new JsonSlurper().parse(new File(self.workspace, args.file.toString()))
        })
        binding.setVariable('archiveArtifacts', { Map args ->
            self.calls << [step: 'archiveArtifacts', artifacts: args.artifacts, allowEmptyArchive: args.allowEmptyArchive]
        })
        binding.setVariable('string', { Map args -> [kind: 'string', credentialsId: args.credentialsId, variable: args.variable] })
        binding.setVariable('withEnv', { List entries, Closure body ->
            Map<String, String> layer = [:]
            for (Object entry : entries) {
                String s = entry.toString()
                int eq = s.indexOf('=')
                layer[s.substring(0, eq)] = s.substring(eq + 1)
            }
            self.calls << [step: 'withEnv', names: new ArrayList(layer.keySet())]
            self.withLayer(layer, body)
        })
        binding.setVariable('withCredentials', { List bindings, Closure body ->
            Map<String, String> layer = [:]
            for (Object b : bindings) {
                Map m = (Map) b
                if (!self.credentials.containsKey(m.credentialsId)) {
                    throw new PipelineError("Could not find credentials entry with ID '${m.credentialsId}'")
                }
                layer[m.variable.toString()] = self.credentials[m.credentialsId]
            }
            self.calls << [step: 'withCredentials', bindings: bindings]
            self.withLayer(layer, body)
        })
        // Lockable Resources' lock: recorded, then the body runs (one build at a time here).
        binding.setVariable('lock', { Map args, Closure body ->
            self.calls << [step: 'lock', resource: args.resource.toString()]
            body.call()
        })
        binding.setVariable('sh', { Object arg ->
            Map args = (arg instanceof Map) ? (Map) arg : [script: arg]
            String script = args.script.toString()
            int rc = self.runShell(script)
            self.calls << [step: 'sh', script: script, label: args.label, rc: rc, scoped: self.scopedNames()]
            if (args.returnStatus) {
                return rc
            }
            if (rc != 0) {
                throw new PipelineError("script returned exit code ${rc}")
            }
            return null
        })
        // Library steps call each other by name, as in Jenkins.
        GroovyShell shell = new GroovyShell(this.class.classLoader, binding)
        new File(libraryRoot, 'vars').listFiles().findAll { it.name.endsWith('.groovy') }.each { File f ->
            Script step = shell.parse(f)
            step.setBinding(binding)
            binding.setVariable(f.name - '.groovy', { Object... a -> step.invokeMethod('call', a) })
        }
    }
}

File libraryRoot = new File(args[0])
List scenarios = (List) new JsonSlurper().parse(new File(args[1]))
List results = []
for (Object o : scenarios) {
    Map sc = (Map) o
    Run run = new Run(
        libraryRoot: libraryRoot,
        workspace: new File(sc.workspace.toString()),
        pipelineEnv: (Map<String, String>) (sc.env ?: [:]),
        credentials: (Map<String, String>) (sc.credentials ?: [:]),
    )
    run.install()
    Map result = [name: sc.name]
    try {
        Closure step = (Closure) run.binding.getVariable(sc.step.toString())
        result.returned = step.call((Map) (sc.args ?: [:]))
    } catch (PipelineError e) {
        result.error = e.message
    }
    result.calls = run.calls
    results << result
}
new File(args[2]).text = JsonOutput.prettyPrint(JsonOutput.toJson(results))
