#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs a bash completion function as bash would for one command line and
# prints what it offers, one per line, sorted and unique (test_deploy.c).
#   complete.sh SCRIPT WORD... CUR      (CUR may be '')
# bash-completion's own library is loaded first, as an interactive shell
# does; the command's completion is read from SCRIPT.
set -u
script=$1
shift
# shellcheck source=/dev/null
source /usr/share/bash-completion/bash_completion || exit 1
# shellcheck source=/dev/null
source "$script" || exit 1
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
spec=$(complete -p "$1" 2>/dev/null) || {
	echo "complete.sh: no completion for $1" >&2
	exit 1
}
fn=${spec#*-F }
fn=${fn%% *}
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}" | sort -u
exit 0
