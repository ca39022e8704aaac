import org.llmgitops.CliArgs
import org.llmgitops.Options

/**
 * Runs `llm-gitops promote --to ENV`: opens (or updates) the pull request that sets
 * deploy/ENV.yaml to the release verified upstream. Returns [pullRequest:] (its URL, or
 * null when ENV already runs that release). See llmGitopsPromote.txt.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        to           : '',                   // required: the environment to promote into, e.g. 'prod'
        config       : '.llm-gitops.yaml',
        base         : 'main',               // the branch the pull request targets
        forge        : 'auto',
        credentialsId: '',                   // Jenkins "secret text" credential with the forge token
        tokenVariable: 'GITHUB_TOKEN',       // GITHUB_TOKEN or GITLAB_TOKEN: what the CLI reads
        install      : true,
    ] + Options.installDefaults('forge')
    String problem = Options.unknownKeys('llmGitopsPromote', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    config = defaultConfig << config
    if (!(config.to ==~ /^[A-Za-z0-9][A-Za-z0-9_.-]*$/)) {
        error("llmGitopsPromote: set to, the environment to promote into (e.g. to: 'prod'), not '${config.to}'")
    }
    problem = Options.badTokenVariable('llmGitopsPromote', config.tokenVariable)
    if (problem) {
        error(problem)
    }

    List<String> pathEntry = []
    if (config.install) {
        String bin = llmGitopsSetup(Options.installOptions(config))
        pathEntry = ["PATH+LLMGITOPS=${bin}"]
    }
    String out = '.llm-gitops/promotion-url.txt'
    CliArgs cli = new CliArgs('promote')
        .option('--config', config.config)
        .option('--to', config.to)
        .option('--base', config.base)
        .option('--forge', config.forge)
    // The release card goes to the log; stdout is the pull request's URL.
    String script = "mkdir -p .llm-gitops && ${cli.script()} > ${out}"
    int rc = 0
    withEnv(pathEntry + cli.environment()) {
        if (config.credentialsId) {
            withCredentials([string(credentialsId: config.credentialsId, variable: config.tokenVariable)]) {
                rc = sh(script: script, returnStatus: true, label: 'llm-gitops promote')
            }
        } else {
            rc = sh(script: script, returnStatus: true, label: 'llm-gitops promote')
        }
    }
    if (rc != 0) {
        error("llm-gitops promote exited with ${rc} (2: refused - on hold, not verified, failed or stale - or the forge failed); see the log above")
    }
    String url = fileExists(out) ? readFile(out).trim() : ''
    return [pullRequest: url ?: null]
}
