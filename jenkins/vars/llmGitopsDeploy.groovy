import org.llmgitops.CliArgs
import org.llmgitops.Options

/**
 * Runs `llm-gitops deploy --env ENV`: makes the environment run the release its
 * deploy/ENV.yaml names, blue/green, and records it as verified on the commit that set it.
 * Holds lock(resource: 'llm-gitops-deploy-ENV') (Lockable Resources plugin) around it, so two
 * builds never deploy one environment at once; the second waits. With release: true it first
 * records the build (.llm-gitops/build.json) as a release, commits deploy/ and pushes it.
 * Returns [release:, action:, record:]. See llmGitopsDeploy.txt.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        environment  : '',                   // required: a name under environments: in the config
        config       : '.llm-gitops.yaml',
        release      : false,                // record the build as a release for the environment, commit and push it first
        branch       : '',                   // the branch the release commit is pushed to; empty: BRANCH_NAME
        promote      : false,                // only switch traffic to the colour already running the release
        scaleDown    : true,                 // false: --no-scale-down
        forge        : 'auto',               // where the verification status is written
        credentialsId: '',                   // Jenkins "secret text" credential with the forge token
        tokenVariable: 'GITHUB_TOKEN',       // GITHUB_TOKEN or GITLAB_TOKEN: what the CLI reads
        lock         : true,                 // lock(resource: 'llm-gitops-deploy-ENV') around the deploy
        install      : true,
    ] + Options.installDefaults('eval,build,k8s,forge,serve')
    String problem = Options.unknownKeys('llmGitopsDeploy', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    config = defaultConfig << config
    if (!(config.environment ==~ /^[A-Za-z0-9][A-Za-z0-9_.-]*$/)) {
        error("llmGitopsDeploy: set environment to a name under environments: in the config (e.g. environment: 'staging'), not '${config.environment}'")
    }
    problem = Options.badTokenVariable('llmGitopsDeploy', config.tokenVariable)
    if (problem) {
        error(problem)
    }
    String branch = config.branch ?: env.BRANCH_NAME
    if (config.release && !branch) {
        error('llmGitopsDeploy: set branch, the branch the release commit is pushed to (BRANCH_NAME is not set)')
    }

    List<String> pathEntry = []
    if (config.install) {
        String bin = llmGitopsSetup(Options.installOptions(config))
        pathEntry = ["PATH+LLMGITOPS=${bin}"]
    }
    String record = '.llm-gitops/deploy-record.json'
    CliArgs cli = new CliArgs('deploy')
        .option('--config', config.config)
        .option('--env', config.environment)
        .option('--forge', config.forge)
    cli.flag('--promote', config.promote as boolean).flag('--no-scale-down', !config.scaleDown)

    Closure body = {
        if (config.release) {
            // The release file and deploy/ENV.yaml are committed together: git history is the
            // deploy history, and the verification status goes on this commit. Values reach
            // the script through the environment; the agent's git credentials push.
            withEnv(pathEntry + ["LLM_GITOPS_CONFIG=${config.config}", "LLM_GITOPS_ENV=${config.environment}",
                                 "LLM_GITOPS_BRANCH=${branch}"]) {
                sh(script: libraryResource('org/llmgitops/release-commit.sh'), label: 'llm-gitops release')
            }
        }
        int rc = 0
        withEnv(pathEntry + cli.environment()) {
            String script = "mkdir -p .llm-gitops && ${cli.script()} > ${record}"
            if (config.credentialsId) {
                // The token exists only inside this block, as an environment variable the CLI reads.
                withCredentials([string(credentialsId: config.credentialsId, variable: config.tokenVariable)]) {
                    rc = sh(script: script, returnStatus: true, label: 'llm-gitops deploy')
                }
            } else {
                rc = sh(script: script, returnStatus: true, label: 'llm-gitops deploy')
            }
        }
        if (rc != 0) {
            error("llm-gitops deploy exited with ${rc} (1: not promoted, the live colour kept all traffic; 2: configuration, deploy file, release or engine problem); see the log above")
        }
    }
    if (config.lock) {
        lock(resource: "llm-gitops-deploy-${config.environment}", body)
    } else {
        body()
    }
    Map result = [release: null, action: null, record: null]
    // With promote: true the CLI prints no record.
    if (fileExists(record) && readFile(record).trim().startsWith('{')) {
        Map printed = readJSON(file: record)
        result = [release: printed.release, action: printed.action, record: record]
    }
    return result
}
