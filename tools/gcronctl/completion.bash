# bash completion for gcronctl (zsh: through bashcompinit).
#
#   source <(gcronctl completion bash)         # this shell (zsh: ... zsh)
#   source tools/gcronctl/completion.bash      # the same, from the sources
#   install -m 644 tools/gcronctl/completion.bash \
#       /usr/share/bash-completion/completions/gcronctl
#
# Completes commands, subcommands and options; project ids/titles after -p
# and job names after job subcommands are asked of the server (quietly, with
# a short timeout) using the -s URL already on the command line, if any.

_gcronctl_ask() { # gcronctl args... -> stdout, never an error
	local -a srv=()
	[[ -n ${_gcronctl_server-} ]] && srv=(-s "$_gcronctl_server")
	GCRON_TIMEOUT=${GCRON_TIMEOUT:-3} "${COMP_WORDS[0]}" "${srv[@]}" "$@" 2>/dev/null
}

# Values of the given members in gcronctl's indented --json output (one
# member per line).
_gcronctl_members() { # member-regex
	sed -n -E 's/^ *"('"$1"')": ("([^"]*)"|([0-9]+)),?$/\3\4/p'
}

_gcronctl_projects() {
	_gcronctl_ask --json project ls | _gcronctl_members 'project_id|title'
}

_gcronctl_jobs() { # [project]
	local -a p=()
	[[ -n $1 ]] && p=(-p "$1")
	_gcronctl_ask --json job ls "${p[@]}" | _gcronctl_members 'task_id|name'
}

_gcronctl() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="login logout whoami project job log node user cron exec completion help"
	local globals="-s --server --json -h --help -V --version"
	local i group="" sub="" project="" _gcronctl_server=""

	# Find the group and subcommand, skipping global options.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --server)
			_gcronctl_server=${words[i + 1]}
			((i++))
			;;
		-p | --project) project=${words[i + 1]} ;;
		-*) ;;
		*)
			if [[ -z $group ]]; then
				group=${words[i]}
			elif [[ -z $sub ]]; then
				sub=${words[i]}
			fi
			;;
		esac
	done

	case $prev in
	-s | --server)
		COMPREPLY=($(compgen -W "http:// https://" -- "$cur"))
		return
		;;
	-p | --project)
		COMPREPLY=($(compgen -W "$(_gcronctl_projects)" -- "$cur"))
		return
		;;
	-t | --task)
		COMPREPLY=($(compgen -W "$(_gcronctl_jobs "$project")" -- "$cur"))
		return
		;;
	-u | --account | -n | --name | --cron | -c | --timeout | --remark | -r | \
		--title | --page | --limit | -l | --wait-timeout)
		return # a value of the user's choosing
		;;
	esac

	if [[ -z $group ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local subs="" opts="--help --json"
	case $group in
	help) subs=$commands ;;
	login) opts+=" -u --account --password-stdin" ;;
	logout | whoami) ;;
	project)
		subs="ls add edit rm members add-member rm-member"
		case $sub in
		add) opts+=" --remark" ;;
		edit) opts+=" --title --remark" ;;
		rm) opts+=" --yes" ;;
		esac
		;;
	job)
		subs="ls show add edit rm pause resume run kill"
		case $sub in
		ls) opts+=" -p --project" ;;
		add) opts+=" -p --project -n --name --cron --timeout --noseize --exclusion --paused --remark" ;;
		edit) opts+=" -p --project -n --name --cron --timeout --remark --noseize --seize --exclusion --no-exclusion --paused --active" ;;
		run) opts+=" -p --project --wait --wait-timeout" ;;
		show | rm | pause | resume | kill) opts+=" -p --project" ;;
		esac
		;;
	log)
		subs="ls show clean"
		case $sub in
		ls) opts+=" -p --project -t --task --errors --page --limit" ;;
		show) opts+=" -p --project --details" ;;
		clean) opts+=" -p --project -t --task" ;;
		esac
		;;
	node) subs="ls" opts+=" -p --project" ;;
	user)
		subs="ls add rm passwd"
		case $sub in
		add) opts+=" -n --name --admin --password-stdin" ;;
		passwd) opts+=" --password-stdin" ;;
		esac
		;;
	cron)
		subs="next check"
		[[ $sub == next ]] && opts+=" -n --count --from --utc --local --batch"
		;;
	exec) opts+=" --timeout --output-limit --shell --kill-grace --workdir --name --project --task-id --ip" ;;
	completion) subs="bash zsh" ;;
	esac

	if [[ -z $sub && -n $subs && $cur != -* ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ $group == job && $sub =~ ^(show|edit|rm|pause|resume|run|kill)$ ]]; then
		COMPREPLY=($(compgen -W "$(_gcronctl_jobs "$project")" -- "$cur"))
	elif [[ $group == project && $sub =~ ^(edit|rm|members|add-member|rm-member)$ ]]; then
		COMPREPLY=($(compgen -W "$(_gcronctl_projects)" -- "$cur"))
	fi
}

complete -F _gcronctl gcronctl
