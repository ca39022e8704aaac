/**
 * Runs `dvc pull TARGET...` (e.g. the model a DVC pipeline writes). llmGitopsGate and
 * llmGitopsBuild call it with their dvcPull option. See llmGitopsDvcPull.txt.
 */
def call(Map config = [:]) {
    List<String> targets = (config.targets ?: '').toString().tokenize(' ')
    if (targets.isEmpty()) {
        error('llmGitopsDvcPull: set targets, the DVC outputs to pull (e.g. targets: "model")')
    }
    // Each target is its own argument through the environment; the shell parses none of it.
    List<String> targetEnv = []
    StringBuilder pull = new StringBuilder('dvc pull')
    targets.eachWithIndex { String target, int i ->
        targetEnv << "LLM_GITOPS_DVC_TARGET_${i}=${target}".toString()
        pull.append(' "$LLM_GITOPS_DVC_TARGET_').append(i).append('"')
    }
    withEnv((config.path ?: []) + targetEnv) {
        sh(script: pull.toString(), label: 'dvc pull')
    }
}
