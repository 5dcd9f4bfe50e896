# Sourced by the scripts here: latest_state RUN_DIR prints the state.json of the run's newest
# complete checkpoint (state.json is written last), or fails naming the run.
latest_state() {
    local state
    state=$(ls -d "$1"/checkpoints/epoch-*/state.json 2>/dev/null | sort | tail -n 1)
    [[ -n $state ]] || { echo "$(basename "$0"): $1: no checkpoint (not a run directory, or no epoch finished yet)" >&2; return 1; }
    echo "$state"
}
