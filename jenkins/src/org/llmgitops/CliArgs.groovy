package org.llmgitops

/**
 * Builds an llm-gitops command line whose values travel in environment variables.
 *
 * The shell string it returns holds only this library's own literals: the executable,
 * the subcommand, flag names (checked against a strict pattern) and "$VARIABLE"
 * references. Every value - paths, model sources, anything a pull request could
 * influence - goes into {@link #environment()} for `withEnv`, so the shell never parses it.
 *
 *   def cli = new CliArgs('gate').option('--config', '.llm-gitops.yaml').flag('--push', true)
 *   withEnv(cli.environment()) { sh cli.script() }
 */
class CliArgs implements Serializable {
    private static final long serialVersionUID = 1L
    private static final String COMMAND_PATTERN = /^[a-z][a-z0-9-]*$/
    private static final String FLAG_PATTERN = /^--[a-z][a-z0-9-]*$/

    final String command
    // [flag, variable name or null for a bare flag], in command-line order
    private final List<List<String>> parts = []
    private final Map<String, String> values = [:]

    CliArgs(String command) {
        if (!(command ==~ COMMAND_PATTERN)) {
            throw new IllegalArgumentException("not an llm-gitops command: '${command}'")
        }
        this.command = command
    }

    /** Adds `flag VALUE`; a null or empty value leaves the flag out (the CLI's default applies). */
    CliArgs option(String flag, Object value) {
        checkFlag(flag)
        if (value == null || value.toString().isEmpty()) {
            return this
        }
        String name = variableFor(flag)
        if (values.containsKey(name)) {
            throw new IllegalArgumentException("option ${flag} given twice")
        }
        values[name] = value.toString()
        parts << [flag, name]
        return this
    }

    /** Adds a bare `flag` when `on` is true. */
    CliArgs flag(String flag, boolean on) {
        checkFlag(flag)
        if (on) {
            parts << [flag, null]
        }
        return this
    }

    /** `NAME=value` entries for `withEnv`, one per option given. */
    List<String> environment() {
        List<String> out = []
        for (Map.Entry<String, String> e : values.entrySet()) {
            out << (e.key + '=' + e.value)
        }
        return out
    }

    /** The command line for `sh`: literals and quoted variable references only. */
    String script(String executable = 'llm-gitops') {
        if (!(executable ==~ /^[A-Za-z0-9_.\/-]+$/)) {
            throw new IllegalArgumentException("unsafe executable name: '${executable}'")
        }
        StringBuilder sb = new StringBuilder(executable).append(' ').append(command)
        for (List<String> part : parts) {
            sb.append(' ').append(part[0])
            if (part[1] != null) {
                sb.append(' "$').append(part[1]).append('"')
            }
        }
        return sb.toString()
    }

    private static void checkFlag(String flag) {
        if (!(flag ==~ FLAG_PATTERN)) {
            throw new IllegalArgumentException("not a command-line flag: '${flag}'")
        }
    }

    private static String variableFor(String flag) {
        return 'LLM_GITOPS_ARG_' + flag.substring(2).toUpperCase().replace('-', '_')
    }
}
