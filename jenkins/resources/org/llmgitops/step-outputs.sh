#!/usr/bin/env bash
# Writes GitHub step outputs (and PATH entries) for the glue's own shell steps: the one place
# the glue appends to $GITHUB_OUTPUT and $GITHUB_PATH (the CLI writes its own outputs).
#
#   step-outputs.sh NAME VALUE [NAME VALUE ...]   append the outputs to $GITHUB_OUTPUT
#   step-outputs.sh --path DIR                    append DIR to $GITHUB_PATH
#
# Values come from inputs (a config path, a venv), so no value may forge another key:
# every output is written in GitHub's multi-line form, `NAME<<DELIMITER` / value /
# `DELIMITER`, with a random delimiter checked not to occur in the value (as the CLI does,
# src/llm_gitops/commands/step_outputs.py); and as each output of the glue is one line (a
# path, a key, a version), a value holding a line break is refused: it can only come from
# an input with a newline, and would be a second path to actions/cache. $GITHUB_PATH has
# no multi-line form: a directory holding a line break is refused too. Everything is
# checked before anything is written. Exit status: 0 written, 2 refused (nothing written).
set -euo pipefail

refuse() {
  echo "error: llm-gitops step outputs: $1" >&2
  exit 2
}

has_line_break() {
  case "$1" in *$'\n'* | *$'\r'*) return 0 ;; *) return 1 ;; esac
}

if [ "${1:-}" = "--path" ]; then
  [ "$#" -eq 2 ] || refuse "usage: step-outputs.sh --path DIR"
  [ -n "${GITHUB_PATH:-}" ] || refuse "GITHUB_PATH is not set"
  ! has_line_break "$2" || refuse "the directory for PATH holds a line break (from an input with a newline?)"
  printf '%s\n' "$2" >> "$GITHUB_PATH"
  exit 0
fi

if [ "$#" -eq 0 ] || [ $(($# % 2)) -ne 0 ]; then
  refuse "usage: step-outputs.sh NAME VALUE [NAME VALUE ...]"
fi
[ -n "${GITHUB_OUTPUT:-}" ] || refuse "GITHUB_OUTPUT is not set"

text=""
while [ "$#" -gt 0 ]; do
  name="$1" value="$2"
  shift 2
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_-]{0,99}$ ]] || refuse "'$name' is not a step output name"
  ! has_line_break "$value" || refuse "the value of output $name holds a line break (from an input with a newline?)"
  while :; do
    delimiter="ghadelimiter_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    [ "${#delimiter}" -eq 45 ] || refuse "no random delimiter could be made (/dev/urandom)"
    case "$value" in *"$delimiter"*) ;; *) break ;; esac
  done
  text+="$name<<$delimiter"$'\n'"$value"$'\n'"$delimiter"$'\n'
done
# One write: a reader never sees half an output.
printf '%s' "$text" >> "$GITHUB_OUTPUT"
