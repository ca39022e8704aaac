import org.llmgitops.Options

/**
 * Installs llm-gitops - by default from this library's own repository at the ref the
 * Jenkinsfile loads it at (source + ref), so no package index is involved - into a
 * virtual environment in the workspace and returns
 * the absolute path of its bin directory (put it on PATH with withEnv(["PATH+LLMGITOPS=..."])).
 * See llmGitopsSetup.txt for the options.
 */
def call(Map config = [:]) {
    Map defaultConfig = Options.installDefaults('eval,forge,tracking,dvc')
    String problem = Options.unknownKeys('llmGitopsSetup', defaultConfig, config)
    if (problem) {
        error(problem)
    }
    // Defaults first, then what the Jenkinsfile passed wins.
    config = defaultConfig << config

    if (!config.version && !config.spec && !(config.source && config.ref)) {
        error("llmGitopsSetup: set source and ref (the git URL of the llm-gitops repository and the ref in @Library('llm-gitops@REF')), or a version")
    }
    String venv = config.venv.toString()
    if (!venv.startsWith('/')) {
        venv = "${pwd()}/${venv}"
    }
    // The script is this library's own file; every value reaches it through the environment.
    writeFile(file: '.llm-gitops/install.sh', text: libraryResource('org/llmgitops/install.sh'))
    withEnv([
        "LLM_GITOPS_PYTHON=${config.python}",
        "LLM_GITOPS_VENV=${venv}",
        "LLM_GITOPS_SOURCE=${config.source}",
        "LLM_GITOPS_SOURCE_REF=${config.ref}",
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
