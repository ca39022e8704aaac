import org.llmgitops.CliArgs
import org.llmgitops.Options

/**
 * Runs `llm-gitops gate` on the candidate model: posts one sticky report comment and a
 * commit status on the pull request, archives report.md/report.json/chart.png, and fails
 * the build when the gate fails. Returns [verdict:, reportPath:, exitCode:].
 * See llmGitopsGate.txt for the options.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        config       : '.llm-gitops.yaml',   // the llm-gitops config file
        candidate    : '',                   // model source; empty: models.candidate from the config
        baseline     : '',                   // model source; empty: models.baseline from the config
        candidateResults: '',                // lm-eval's own output for the candidate instead of a model
        baselineResults : '',                // lm-eval's own output for the baseline instead of a model
        reportTo     : 'auto',               // auto | github | gitlab | none
        outputDir    : '.llm-gitops/reports',
        credentialsId: '',                   // Jenkins "secret text" credential with the forge token
        tokenVariable: 'GITHUB_TOKEN',       // GITHUB_TOKEN or GITLAB_TOKEN: what the CLI reads
        failBuild    : true,                 // error() when the gate fails (exit 1) as well as on errors
        archive      : true,                 // archiveArtifacts the report directory
        dvcPull      : '',                   // DVC targets to pull first, e.g. 'model' (space-separated)
        install      : true,                 // false: use the llm-gitops already on PATH
    ] + Options.installDefaults('eval,forge,tracking,dvc')
    String problem = Options.unknownKeys('llmGitopsGate', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    // Defaults first, then what the Jenkinsfile passed wins.
    config = defaultConfig << config
    problem = Options.badTokenVariable('llmGitopsGate', config.tokenVariable)
    if (problem) {
        error(problem)
    }
    String tokenVariable = config.tokenVariable

    List<String> pathEntry = []
    if (config.install) {
        String bin = llmGitopsSetup(Options.installOptions(config))
        pathEntry = ["PATH+LLMGITOPS=${bin}"]
    }

    if (config.dvcPull) {
        llmGitopsDvcPull(targets: config.dvcPull, path: pathEntry)
    }

    CliArgs cli = new CliArgs('gate')
        .option('--config', config.config)
        .option('--candidate', config.candidate)
        .option('--baseline', config.baseline)
        .option('--candidate-results', config.candidateResults)
        .option('--baseline-results', config.baselineResults)
        .option('--report-to', config.reportTo)
        .option('--output-dir', config.outputDir)

    int rc = 0
    withEnv(pathEntry + cli.environment()) {
        if (config.credentialsId) {
            // The token exists only inside this block, as an environment variable the
            // CLI reads; Jenkins masks it in the log. It is never part of a command line.
            withCredentials([string(credentialsId: config.credentialsId, variable: tokenVariable)]) {
                rc = sh(script: cli.script(), returnStatus: true, label: 'llm-gitops gate')
            }
        } else {
            rc = sh(script: cli.script(), returnStatus: true, label: 'llm-gitops gate')
        }
    }

    String reportJson = "${config.outputDir}/report.json"
    String verdict = null
    // Exits 0, 1 and 4 write the report (llm-gitops gate --help); any other leaves the
    // output directory as it was, and a kept workspace may hold an earlier build's report:
    // that one is neither this build's verdict nor its artifact.
    boolean reported = rc in [0, 1, 4]
    if (reported && fileExists(reportJson)) {
        verdict = readJSON(file: reportJson)?.verdict
    }
    if (config.archive && reported) {
        archiveArtifacts(artifacts: "${config.outputDir}/**", allowEmptyArchive: true)
    }
    Map result = [verdict: verdict, reportPath: "${config.outputDir}/report.md", exitCode: rc]
    if (rc == 1 && config.failBuild) {
        error("llm-gitops gate: the candidate did not pass (verdict: ${verdict}); see ${result.reportPath}")
    } else if (rc > 1) {
        // The CLI's exit codes (llm-gitops gate --help, docs/cli.md).
        String meaning = [
            2: 'a configuration or usage error: a bad config, option, model source or CI variable, or a forge that ' +
               'refused or could not be reached when reportTo named it explicitly (on a pass)',
            3: 'an internal error, a bug of llm-gitops',
            4: "the evaluation failed while it ran: verdict error, written to ${reportJson}",
        ][rc] ?: '2: configuration or usage error, 3: internal error, 4: the evaluation failed (verdict error)'
        error("llm-gitops gate exited with ${rc} (${meaning}); see the log above")
    }
    return result
}
