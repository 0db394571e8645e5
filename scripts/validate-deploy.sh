#!/usr/bin/env bash
# Checks the deployment files under deploy/ (and the commands in docs/deploy.md)
# against reality, so they cannot drift from the binary:
#   1. Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate
#      from PyPI, in a venv under the cargo target dir), strictly: unknown fields
#      fail. The kustomization is built with `kubectl kustomize` when kubectl exists.
#      The gateway runs as replicas: two or more, a shared session key from a
#      Secret, and a PodDisruptionBudget over its pods that allows an eviction.
#   2. systemd units with `systemd-analyze verify`, when systemd-analyze exists,
#      also with their optional (commented-out) lines switched on; the haproxy
#      example with `haproxy -c` (required under CI=true).
#   3. Every --flag and BROWSERFARM_* variable used with `browserfarm mcp|agent|...`
#      exists in the `--help` of the binary given as $1.
#   4. The agent's Kubernetes probe commands, run against a real agent, and the
#      gateway's --nodes-dns finding that agent (needs Chromium and curl).
# Usage: scripts/validate-deploy.sh path/to/browserfarm
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:?usage: $0 path/to/browserfarm (e.g. target/debug/browserfarm)}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target"
venv="$(cd "$target" && pwd)/deploy-venv"
# Pinned: the schemas it ships decide what passes.
validator_version="1.37.0"
# The oldest Kubernetes the manifests promise to work on, and the newest known.
kube_versions=(1.29.0 1.37.0)

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

echo "--- deploy: Kubernetes manifests against the Kubernetes JSON schemas"
if [ ! -x "$venv/bin/kubernetes-validate" ] ||
  [ "$("$venv/bin/kubernetes-validate" --version)" != "$validator_version" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$validator_version"
fi
validate() { "$venv/bin/kubernetes-validate" --strict --quiet "$@"; }
# kustomization.yaml is kustomize's own format, not a Kubernetes object.
manifests=()
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || manifests+=("$f")
done
for v in "${kube_versions[@]}"; do
  validate -k "$v" "${manifests[@]}" || fail "manifests do not validate against Kubernetes $v"
done
# A validator that passes everything would prove nothing: feed it a broken copy.
sed 's/containerPort: 9301/containerPort: "9301"/' deploy/kubernetes/agent-deployment.yaml \
  >"$work/broken.yaml"
if validate --no-warn "$work/broken.yaml" >/dev/null 2>&1; then
  fail "kubernetes-validate accepted a manifest with a string containerPort"
fi
if command -v kubectl >/dev/null 2>&1; then
  if kubectl kustomize deploy/kubernetes >"$work/kustomized.yaml"; then
    validate -k "${kube_versions[-1]}" "$work/kustomized.yaml" || fail "the kustomize build does not validate"
  else
    fail "kubectl kustomize deploy/kubernetes failed"
  fi
else
  echo "skip: kubectl not found; checking only that kustomization.yaml lists existing files"
fi
# The KEDA ScaledObject is a custom resource: kubernetes-validate ships only the
# core API's schemas, so it would merely warn "no schema" and check nothing.
# Without KEDA's CRD schema at hand, check what would break it silently: that it
# scales the agent Deployment and queries the gateway's queue-depth metric.
"$venv/bin/python" - <<'EOF' || failed=1
import copy, pathlib, sys, yaml

root = pathlib.Path("deploy/kubernetes")
ok = True
def fail(msg):
    global ok
    ok = False
    print(f"FAIL: {msg}")

kustomization = yaml.safe_load((root / "kustomization.yaml").read_text())
for resource in kustomization["resources"]:
    if not (root / resource).is_file():
        fail(f"kustomization.yaml lists {resource}, which does not exist")
listed = set(kustomization["resources"])
for f in sorted(root.glob("*.yaml")):
    if f.name != "kustomization.yaml" and f.name not in listed:
        fail(f"{f} is not listed in kustomization.yaml")

objects = [
    d
    for f in sorted(root.glob("*.yaml"))
    if f.name != "kustomization.yaml"
    for d in yaml.safe_load_all(f.read_text())
    if d
]
deployments = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Deployment"}
keda = root / "optional" / "keda-scaledobject.yaml"
for doc in yaml.safe_load_all(keda.read_text()):
    if doc["apiVersion"] != "keda.sh/v1alpha1" or doc["kind"] != "ScaledObject":
        fail(f"{keda}: expected a keda.sh/v1alpha1 ScaledObject")
    spec = doc["spec"]
    if spec["scaleTargetRef"]["name"] not in deployments:
        fail(f"{keda}: scales {spec['scaleTargetRef']['name']}, not one of {sorted(deployments)}")
    triggers = spec["triggers"]
    if not any(t["type"] == "prometheus" and "browserfarm_queue_depth" in t["metadata"]["query"]
               for t in triggers):
        fail(f"{keda}: no prometheus trigger on browserfarm_queue_depth")
    if spec["minReplicaCount"] > spec["maxReplicaCount"]:
        fail(f"{keda}: minReplicaCount above maxReplicaCount")

# Gateway replicas: at least two, sharing a session key from a Secret (else a
# replica cannot continue the others' sessions), and a PodDisruptionBudget that
# selects their pods and still lets one be evicted. Every PDB must select the
# pods of exactly one Deployment.
GATEWAY = "browserfarm-gateway"

def selects(selector, labels):
    if set(selector) - {"matchLabels"}:
        return None  # matchExpressions: not understood here, reported below
    wanted = selector.get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())

def replica_problems(objects):
    problems = []
    deployments = {d["metadata"]["name"]: d for d in objects if d["kind"] == "Deployment"}
    covered = set()
    for pdb in (d for d in objects if d["kind"] == "PodDisruptionBudget"):
        name, spec = pdb["metadata"]["name"], pdb["spec"]
        matched = []
        for deployment in deployments.values():
            hit = selects(spec["selector"], deployment["spec"]["template"]["metadata"]["labels"])
            if hit is None:
                problems.append(f"PDB {name}: only matchLabels selectors are checked")
                break
            if hit:
                matched.append(deployment)
        if len(matched) != 1:
            problems.append(f"PDB {name} selects the pods of {len(matched)} Deployments, not one")
            continue
        target = matched[0]
        covered.add(target["metadata"]["name"])
        replicas = target["spec"].get("replicas", 1)
        if not isinstance(spec.get("minAvailable", 0), int) or not isinstance(spec.get("maxUnavailable", 1), int):
            problems.append(f"PDB {name}: give minAvailable/maxUnavailable as pod counts")
        elif spec.get("minAvailable", 0) >= replicas or spec.get("maxUnavailable", 1) < 1:
            problems.append(f"PDB {name} lets no pod of {target['metadata']['name']} "
                            f"({replicas} replicas) be evicted: node drains would hang")
    gateway = deployments.get(GATEWAY)
    if gateway is None:
        return problems + [f"no Deployment {GATEWAY}"]
    if gateway["spec"].get("replicas", 1) < 2:
        problems.append(f"{GATEWAY} runs {gateway['spec'].get('replicas', 1)} replica(s), not 2 or more")
    if GATEWAY not in covered:
        problems.append(f"no PodDisruptionBudget selects the pods of {GATEWAY}")
    pod = gateway["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = [str(a) for a in container.get("args", [])]
    if "--session-key-file" not in args[:-1]:
        problems.append(f"{GATEWAY} replicas get no --session-key-file")
    else:
        key = pathlib.PurePosixPath(args[args.index("--session-key-file") + 1])
        secrets = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
        mounted = any(
            m["name"] in secrets and m.get("readOnly") and key.parent == pathlib.PurePosixPath(m["mountPath"])
            for m in container.get("volumeMounts", [])
        )
        if not mounted:
            problems.append(f"{GATEWAY}: --session-key-file {key} is not in a Secret mounted read-only")
    return problems

for problem in replica_problems(objects):
    fail(problem)
# The same check on a single-replica gateway without its PDB must object.
broken = [copy.deepcopy(d) for d in objects
          if not (d["kind"] == "PodDisruptionBudget" and d["metadata"]["name"] == GATEWAY)]
for d in broken:
    if d["kind"] == "Deployment" and d["metadata"]["name"] == GATEWAY:
        d["spec"]["replicas"] = 1
if len(replica_problems(broken)) < 2:
    fail("the replica check accepted a one-replica gateway without a PodDisruptionBudget")
sys.exit(0 if ok else 1)
EOF

echo "--- deploy: haproxy example config"
if command -v haproxy >/dev/null 2>&1; then
  haproxy -c -f deploy/haproxy/haproxy.cfg || fail "haproxy -c -f deploy/haproxy/haproxy.cfg"
  # A check that passes everything would prove nothing: feed it a broken copy.
  sed 's/balance roundrobin/balance roundrobbin/' deploy/haproxy/haproxy.cfg >"$work/broken-haproxy.cfg"
  if haproxy -c -q -f "$work/broken-haproxy.cfg" >/dev/null 2>&1; then
    fail "haproxy -c accepted a config with an unknown balance algorithm"
  fi
elif [ "${CI:-}" = true ]; then
  fail "haproxy not found (CI installs it: apt-get install haproxy)"
else
  echo "skip: haproxy not found (install haproxy to check deploy/haproxy/haproxy.cfg)"
fi

echo "--- deploy: systemd units"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify insists that ExecStart's binary exists: point it at the one under test.
  # The units as shipped, and with their optional settings (commented-out
  # directives such as `#LoadCredential=...`) switched on.
  mkdir -p "$work/units" "$work/units-optional"
  for unit in deploy/systemd/*.service; do
    sed "s|/usr/local/bin/browserfarm|$bin|g" "$unit" >"$work/units/$(basename "$unit")"
    sed -E 's/^#([A-Z][A-Za-z]*=)/\1/' "$work/units/$(basename "$unit")" \
      >"$work/units-optional/$(basename "$unit")"
  done
  for units in units units-optional; do
    if ! out="$(systemd-analyze verify --man=no "$work/$units"/*.service 2>&1)"; then
      echo "$out"
      fail "systemd-analyze verify ($units)"
    elif [ -n "$out" ]; then
      # Warnings about the units under test fail too; others (the host's) do not.
      echo "$out"
      if grep -q "browserfarm" <<<"$out"; then fail "systemd-analyze verify warned about our units ($units)"; fi
    fi
  done
else
  echo "skip: systemd-analyze not found (install systemd to verify the units)"
fi

echo "--- deploy: flags and variables used in deploy/ exist in $bin"
for sub in mcp agent status doctor; do
  "$bin" "$sub" --help >"$work/help-$sub.txt"
done
"$venv/bin/python" - "$work" <<'EOF' || failed=1
import pathlib, re, shlex, sys, yaml

work = pathlib.Path(sys.argv[1])
subcommands = ("mcp", "agent", "status", "doctor")
helps = {s: (work / f"help-{s}.txt").read_text() for s in subcommands}
known_flags = {s: set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", h)) | {"--help"} for s, h in helps.items()}
known_env = set(re.findall(r"BROWSERFARM_[A-Z0-9_]+", "".join(helps.values())))
ok = True
uses = 0

def check(where, sub, args):
    global ok, uses
    for arg in args:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        uses += 1
        if flag not in known_flags[sub]:
            ok = False
            print(f"FAIL: {where}: `browserfarm {sub} {flag}` is not in `browserfarm {sub} --help`")

files = sorted(p for p in pathlib.Path("deploy").rglob("*") if p.is_file())
files.append(pathlib.Path("docs/deploy.md"))
# Where a command line ends inside text: a pipe, a list operator, a comment, the
# end of inline code or of a string.
stop = re.compile(r"^(\||\|\||&&|;|&|#|>|<|\)|`.*|.*`|\".*|.*\")$")
command = re.compile(r"(?:^|[\s/`\"'(])browserfarm\s+(" + "|".join(subcommands) + r")\b(.*)")
for path in files:
    text = path.read_text()
    for name in sorted(set(re.findall(r"BROWSERFARM_[A-Z0-9_]+", text))):
        uses += 1
        if name not in known_env:
            ok = False
            print(f"FAIL: {path}: {name} is not a variable of any subcommand")
    if path.suffix in (".yaml", ".yml"):
        for doc in yaml.safe_load_all(text):
            pod = (doc or {}).get("spec", {}).get("template", {}).get("spec", {})
            for c in pod.get("containers", []):
                args = [str(a) for a in c.get("args", [])]
                if c.get("image", "").split(":")[0].endswith("browserfarm") and args:
                    if args[0] not in subcommands:
                        ok = False
                        print(f"FAIL: {path}: container {c['name']} runs unknown subcommand {args[0]}")
                        continue
                    check(f"{path} container {c['name']}", args[0], args[1:])
    # Join continued lines so a command split over several lines is read whole.
    logical = re.sub(r"\\\n[#\s]*", " ", text)
    for lineno, line in enumerate(logical.splitlines(), 1):
        for match in command.finditer(line):
            sub, rest = match.group(1), match.group(2)
            args = []
            for token in rest.split():
                if stop.match(token):
                    if token.startswith("--") and token.endswith(("`", '"')):
                        args.append(token.rstrip('`"'))
                    break
                args.append(token)
            check(f"{path}:{lineno}", sub, args)

# Flags named on their own in the guide's prose (`--drain-secs`) must be some
# subcommand's; these few belong to Docker and Chromium.
foreign = {"--init", "--shm-size", "--disable-dev-shm-usage"}
every_flag = set().union(*known_flags.values())
guide = pathlib.Path("docs/deploy.md")
for lineno, line in enumerate(guide.read_text().splitlines(), 1):
    for flag in re.findall(r"`(--[a-z][a-z0-9-]*)", line):
        uses += 1
        if flag not in every_flag | foreign:
            ok = False
            print(f"FAIL: {guide}:{lineno}: {flag} is not a flag of any subcommand")

# Extraction that silently finds nothing would pass everything.
if uses < 20:
    ok = False
    print(f"FAIL: found only {uses} flag/variable uses in deploy/; is the extraction broken?")
print(f"checked {uses} flag and variable uses in {len(files)} files")
sys.exit(0 if ok else 1)
EOF

echo "--- deploy: the agent's probes and the gateway's --nodes-dns against real processes"
chrome=""
for c in chromium chromium-browser google-chrome google-chrome-stable; do
  command -v "$c" >/dev/null 2>&1 && { chrome="$c"; break; }
done
if [ -z "$chrome" ] || ! command -v curl >/dev/null 2>&1; then
  echo "skip: needs Chromium and curl on PATH"
else
  free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  agent_port="$(free_port)"
  gateway_port="$(free_port)"
  head -c 24 /dev/urandom | base64 >"$work/token"
  echo "not-the-token" >"$work/wrong-token"
  chmod 600 "$work/token" "$work/wrong-token"
  "$bin" agent --listen "127.0.0.1:$agent_port" --token-file "$work/token" --min-browsers 0 \
    >"$work/agent.log" 2>&1 &
  pids+=($!)
  # The probe commands exactly as the manifest has them, with this run's token
  # file and port.
  "$venv/bin/python" - "$work" "$agent_port" <<'EOF'
import pathlib, sys, yaml
work, port = pathlib.Path(sys.argv[1]), sys.argv[2]
doc = yaml.safe_load(pathlib.Path("deploy/kubernetes/agent-deployment.yaml").read_text())
container = doc["spec"]["template"]["spec"]["containers"][0]
for probe in ("readinessProbe", "livenessProbe"):
    script = container[probe]["exec"]["command"][-1]
    assert "/etc/browserfarm/token/token" in script and "127.0.0.1:9301" in script, script
    script = script.replace("127.0.0.1:9301", f"127.0.0.1:{port}")
    for token in ("token", "wrong-token"):
        (work / f"{probe}-{token}.sh").write_text(
            script.replace("/etc/browserfarm/token/token", str(work / token)) + "\n")
EOF
  ready=""
  for _ in $(seq 100); do
    if sh "$work/readinessProbe-token.sh" 2>/dev/null; then ready=yes; break; fi
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    cat "$work/agent.log"
    fail "the agent's readiness probe never passed"
  else
    sh "$work/livenessProbe-token.sh" || fail "the agent's liveness probe failed on a healthy agent"
    if sh "$work/readinessProbe-wrong-token.sh" 2>/dev/null; then
      fail "the readiness probe passed with a wrong token: it does not really check /health"
    fi
  fi
  "$bin" mcp --http "127.0.0.1:$gateway_port" --nodes-dns "localhost:$agent_port" \
    --nodes-dns-interval-secs 1 --token-file "$work/token" --local-pool=false \
    >"$work/gateway.log" 2>&1 &
  pids+=($!)
  agent_up() {
    printf 'Authorization: Bearer %s' "$(cat "$work/token")" |
      curl -fsS --max-time 2 -H @- "http://127.0.0.1:$gateway_port/v1/farm" 2>/dev/null |
      python3 -c 'import json, sys
nodes = json.load(sys.stdin)["nodes"]
sys.exit(not any(n["name"] == sys.argv[1] and n["state"] == "up" for n in nodes))' \
        "127.0.0.1:$agent_port"
  }
  found=""
  for _ in $(seq 100); do
    if agent_up; then found=yes; break; fi
    sleep 0.1
  done
  if [ -n "$found" ] && curl -fsS --max-time 2 "http://127.0.0.1:$gateway_port/health" >/dev/null; then
    echo "ok: the gateway found the agent at localhost:$agent_port in DNS, and its /health is ready"
  else
    cat "$work/gateway.log"
    fail "the gateway did not find the agent with --nodes-dns localhost:$agent_port"
  fi
fi

if [ "$failed" -ne 0 ]; then
  echo "validate-deploy: FAILED"
  exit 1
fi
echo "validate-deploy: all deployment checks passed"
