import org.llmgitops.CliArgs
import org.llmgitops.Options

/**
 * Runs `llm-gitops build`: quantizes the model (optionally within the config's accuracy
 * budget), builds the serving image, pushes it, and returns [image:, digest:].
 * The agent needs a container engine and a registry login. See llmGitopsBuild.txt.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        config       : '.llm-gitops.yaml',
        model        : '',                   // required: the model directory to package
        quantize     : '',                   // a method, 'budget', or '' to package as is
        repository   : '',                   // empty: image.repository from the config
        tag          : '',                   // empty: GIT_COMMIT
        push         : true,
        outputEnv    : 'llm-gitops-build.env',  // dotenv lines the CLI appends (image, digest)
        install      : true,
        dvcPull      : '',                   // DVC targets to pull first, e.g. 'model' (space-separated)
    ] + Options.installDefaults('quantize,eval,build,dvc')
    String problem = Options.unknownKeys('llmGitopsBuild', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    // Defaults first, then what the Jenkinsfile passed wins.
    config = defaultConfig << config
    if (!config.model) {
        error('llmGitopsBuild: set model, the directory of the model to package (e.g. model: "model")')
    }
    String tag = config.tag ?: env.GIT_COMMIT
    if (!tag) {
        error('llmGitopsBuild: set tag (GIT_COMMIT is not set outside an SCM checkout)')
    }

    List<String> pathEntry = []
    if (config.install) {
        String bin = llmGitopsSetup(Options.installOptions(config))
        pathEntry = ["PATH+LLMGITOPS=${bin}"]
    }

    if (config.dvcPull) {
        llmGitopsDvcPull(targets: config.dvcPull, path: pathEntry)
    }

    String model = config.model
    if (config.quantize) {
        // quantize writes an artifact directory that build then packages like any model.
        CliArgs quantize = new CliArgs('quantize')
            .option('--config', config.config)
            .option('--model', model)
            .option('--output', '.llm-gitops/quantized')
        if (config.quantize != 'budget') {
            quantize.option('--method', config.quantize).flag('--no-budget', true)
        }
        int qrc = 0
        withEnv(pathEntry + quantize.environment()) {
            qrc = sh(script: quantize.script(), returnStatus: true, label: 'llm-gitops quantize')
        }
        if (qrc != 0) {
            error("llm-gitops quantize exited with ${qrc} (1: no method within the accuracy budget, 2: configuration or usage error, 3: internal error); see the log above")
        }
        model = '.llm-gitops/quantized'
    }

    CliArgs cli = new CliArgs('build')
        .option('--config', config.config)
        .option('--model', model)
        .option('--repository', config.repository)
        .option('--tag', tag)
        .option('--output-env', config.outputEnv)
    cli.flag(config.push ? '--push' : '--no-push', true)

    int rc = 0
    withEnv(pathEntry + cli.environment()) {
        rc = sh(script: cli.script(), returnStatus: true, label: 'llm-gitops build')
    }
    if (rc != 0) {
        error("llm-gitops build exited with ${rc} (2: configuration or usage error, 3: internal error); see the log above")
    }
    // The CLI wrote LLM_GITOPS_IMAGE=... and LLM_GITOPS_IMAGE_DIGEST=... (dotenv lines).
    Map result = [image: null, digest: null]
    // Nothing is written without a push (push: false only builds).
    List<String> lines = fileExists(config.outputEnv) ? readFile(config.outputEnv).readLines() : []
    for (String line : lines) {
        if (line.startsWith('LLM_GITOPS_IMAGE=')) {
            result.image = line.substring('LLM_GITOPS_IMAGE='.length())
        } else if (line.startsWith('LLM_GITOPS_IMAGE_DIGEST=')) {
            result.digest = line.substring('LLM_GITOPS_IMAGE_DIGEST='.length())
        }
    }
    return result
}
