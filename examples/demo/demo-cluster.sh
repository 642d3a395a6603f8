#!/usr/bin/env bash
# `make demo-cluster`: the demo with a 3-member etcd cluster and two agents
# (client_ip 127.0.0.1 and 127.0.0.2) sharing project "demo": each tick runs
# on exactly one of them. Same environment variables as demo.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/demo.sh" --cluster "$@"
