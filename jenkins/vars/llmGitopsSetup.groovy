import org.llmgitops.Options

/**
 * Installs a pinned llm-gitops into a virtual environment in the workspace and returns
 * the absolute path of its bin directory (put it on PATH with withEnv(["PATH+LLMGITOPS=..."])).
 * See llmGitopsSetup.txt for the options.
 */
def call(Map config = [:]) {
    Map defaultConfig = [
        version      : '0.1.0',              // llm-gitops release; pin it
        spec         : '',                   // pip requirement instead of the release (extras included)
        extras       : 'eval,forge,tracking',
        torchVersion : '2.13.0',             // unpinned torch resolves to a multi-GB GPU build
        torchIndexUrl: '',                   // package index for torch only
        python       : 'python3',            // interpreter that creates the venv
        venv         : '.llm-gitops/venv',   // relative to the workspace
    ]
    String problem = Options.unknownKeys('llmGitopsSetup', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    // Defaults first, then what the Jenkinsfile passed wins.
    config = defaultConfig << config

    String venv = config.venv.toString()
    if (!venv.startsWith('/')) {
        venv = "${pwd()}/${venv}"
    }
    // The script is this library's own file; every value reaches it through the environment.
    writeFile(file: '.llm-gitops/install.sh', text: libraryResource('org/llmgitops/install.sh'))
    withEnv([
        "LLM_GITOPS_PYTHON=${config.python}",
        "LLM_GITOPS_VENV=${venv}",
        "LLM_GITOPS_VERSION=${config.version}",
        "LLM_GITOPS_SPEC=${config.spec}",
        "LLM_GITOPS_EXTRAS=${config.extras}",
        "LLM_GITOPS_TORCH_VERSION=${config.torchVersion}",
        "LLM_GITOPS_TORCH_INDEX_URL=${config.torchIndexUrl}",
    ]) {
        sh(script: 'bash .llm-gitops/install.sh', label: 'Install llm-gitops')
    }
    return "${venv}/bin"
}
