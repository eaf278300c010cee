# Installs what perfadvisor and its sample stack need on Debian 12, skipping what is already there; sourced by
# scripts/demo and scripts/test (safe to run again). Set PERFADVISOR_PIP_EXTRAS=test for the test tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

packages=(postgresql-15 postgresql-15-hypopg redis-server nginx chromium openssl openjdk-17-jdk-headless maven)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "== installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/perfadvisor-apt.log 2>&1 \
        || { tail -50 /tmp/perfadvisor-apt.log; exit 1; }
fi

# Vite 8 does not install with npm 10.
if [ "$(npm --version | cut -d. -f1)" -lt 11 ]; then
    echo "== npm 11"
    npm install -g -q npm@11
fi

extras="${PERFADVISOR_PIP_EXTRAS:-}"
echo "== the perfadvisor Python package${extras:+ (with [$extras])}"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".${extras:+[$extras]}"
