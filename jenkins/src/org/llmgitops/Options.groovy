package org.llmgitops

/**
 * Option checks shared by the library's steps. Unknown keys are rejected: a typo such as
 * `candiate:` must fail the build, not silently gate the model from the config.
 */
class Options implements Serializable {
    private static final long serialVersionUID = 1L

    /** A one-line problem naming the unknown keys and the known ones, or null when all are known. */
    static String unknownKeys(String step, Map defaults, Map given) {
        List<String> unknown = []
        for (Object key : given.keySet()) {
            if (!defaults.containsKey(key)) {
                unknown << key.toString()
            }
        }
        if (!unknown.isEmpty()) {
            List<String> known = []
            for (Object key : defaults.keySet()) {
                known << key.toString()
            }
            return "${step}: unknown option(s) ${unknown.join(', ')}; known options: ${known.sort().join(', ')}".toString()
        }
        return null
    }

    /**
     * llmGitopsSetup's options with their defaults. The steps that install the CLI first
     * accept the same options (added to their own defaults), each with its own extras.
     */
    static Map installDefaults(String extras) {
        return [
            source       : '',                   // git URL of the llm-gitops repository this library comes from
            ref          : '',                   // the ref you load the library at (@Library('llm-gitops@REF'))
            version      : '',                   // a release from the package index instead of source@ref
            spec         : '',                   // pip requirement instead (extras included)
            extras       : extras,
            torchVersion : '2.13.0',             // unpinned torch resolves to a multi-GB GPU build
            torchIndexUrl: '',                   // package index for torch only (CPU agents: PyTorch's CPU index)
            python       : 'python3',            // interpreter that creates the venv
            venv         : '.llm-gitops/venv',   // relative to the workspace
        ]
    }

    /** The llmGitopsSetup options in a step's `config`. */
    static Map installOptions(Map config) {
        List<String> keys = []
        for (Object key : installDefaults('').keySet()) {
            keys << key.toString()
        }
        return pick(config, keys)
    }

    /** The subset of `config` whose keys are in `keys` (to hand one step's options to another). */
    static Map pick(Map config, List<String> keys) {
        Map out = [:]
        for (String key : keys) {
            if (config.containsKey(key)) {
                out[key] = config[key]
            }
        }
        return out
    }

    /** The variables a forge token may be bound to: the ones the CLI reads. */
    static final List<String> TOKEN_VARIABLES = ['GITHUB_TOKEN', 'GITLAB_TOKEN']

    /** A one-line problem when `name` is not a token variable the CLI reads, else null. */
    static String badTokenVariable(String step, Object name) {
        if (TOKEN_VARIABLES.contains(name?.toString())) {
            return null
        }
        return "${step}: tokenVariable must be one of ${TOKEN_VARIABLES.join(', ')}, not '${name}'".toString()
    }
}
