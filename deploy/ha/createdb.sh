#!/bin/sh
# Patroni's post_bootstrap: the application database, once, on the first primary.
# Patroni passes a connection URL to the new cluster as $1.
set -eu
psql -v ON_ERROR_STOP=1 "$1" -c 'CREATE DATABASE urbanops'
