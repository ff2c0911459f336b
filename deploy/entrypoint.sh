#!/bin/sh
# App Service tells the container its port in PORT; the binary reads its listen
# address from BOT__SERVER__LISTEN. An explicit BOT__SERVER__LISTEN wins.
set -eu
: "${BOT__SERVER__LISTEN:=0.0.0.0:${PORT:-8080}}"
export BOT__SERVER__LISTEN
exec /usr/local/bin/bot-api "$@"
