#!/usr/bin/env bash
# Builds the plugin spawner (spawner/, Go, standard library only) as a static executable:
# dist/spawner/multinet-spawner, which the agent keeps as its child to start delegate plugins
# (rebuilt only when its sources change).
exec bash "$(dirname "$0")/build-go.sh" spawner multinet-spawner dist/spawner
