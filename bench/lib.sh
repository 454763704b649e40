# Shared by the bench scripts (sourced after WORKDIR and STARTED_PIDS are set, and after log/die):
# cleanup on exit, free loopback ports, waiting for a listener, stopping processes, /proc CPU.
# shellcheck shell=bash

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in "${STARTED_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 20); do
        local alive=0
        for pid in "${STARTED_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${STARTED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # A script's own teardown, when it defines one, once its processes are gone.
    if declare -F bench_teardown >/dev/null; then bench_teardown; fi
    if [[ ${BENCH_KEEP_WORKDIR:-0} == 1 ]]; then log "work directory kept: $WORKDIR"; else rm -rf "$WORKDIR"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port VAR: sets VAR to a currently unused loopback port (bind to 0, read it, close) that
# was not handed out before in this run. Runs in this shell (not $(...)) so the record sticks.
PORTS_HANDED_OUT=" "
free_port() {
    local port
    while true; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        [[ $PORTS_HANDED_OUT == *" $port "* ]] || break
    done
    PORTS_HANDED_OUT+="$port "
    printf -v "$1" '%s' "$port"
}

# stop PID...: TERM, wait up to 2 s, then KILL; forgets them so cleanup never signals a reused PID.
stop() {
    local pid kept=()
    kill -TERM "$@" 2>/dev/null || true
    for pid in "$@"; do
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do [[ " $* " == *" $pid "* ]] || kept+=("$pid"); done
    STARTED_PIDS=("${kept[@]}")
}

# wait_port PORT PID NAME: until 127.0.0.1:PORT accepts, failing if PID dies or 10 s pass.
wait_port() {
    local port=$1 pid=$2 name=$3
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "$name exited during startup (see $WORKDIR/$name.log)"
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$name did not listen on $port within 10 s"
}

cpu_ticks() {   # utime+stime of PID (all threads), in clock ticks
    local stat rest
    local -a fields
    stat=$(<"/proc/$1/stat")
    rest=${stat##*) }          # fields after "(comm) ", state is field 3
    read -r -a fields <<<"$rest"
    echo $(( fields[11] + fields[12] ))   # fields 14 and 15: utime, stime
}

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
