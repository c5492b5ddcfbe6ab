# shellcheck shell=bash
# Sourced by the scripts that start a daemon which must outlive them (dockerd, docker-registry).
#
# detach CMD [ARGS...]: runs CMD in the background in its own session, stdin from /dev/null,
# stdout and stderr where the caller redirected the call, and no other descriptor. The caller's
# other descriptors may be locks: `flock LOCK make ...` hands its lock to everything it starts,
# and a daemon that inherited it would hold that lock, and block every later `flock LOCK`, for
# the rest of its life. `$!` is the daemon's pid.
detach() {
  (
    local fd
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup "$@" </dev/null
  ) &
}
