#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Checks deploy/kubernetes/koptd-daemonset.yaml (test_deploy.c runs it).

Validity: every document is read into the Kubernetes API model of its
kind (python3-kubernetes) and written back; a field the API does not
have, or a value of the wrong type, does not survive the round trip and
is reported with its path. (kubeconform, which checks against the
OpenAPI schemas, is not packaged in Debian.)

Then what koptd needs and no more: hostNetwork, no privilege, every
capability dropped but CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN (and
CAP_SYS_ADMIN, allowed), each explained by a comment; the host's
/sys/fs/bpf and /run/kopt mounted where koptd looks; the Prometheus
scrape annotations and a readiness probe on GET /metrics at 9559, the
port koptd.conf serves, on an address the kubelet can reach; resources,
tolerations, a grace period for the restore. The ConfigMap's koptd.conf
uses only the interface's keys and names files the ConfigMap holds.

  k8s_check.py MANIFEST OUTDIR [POLICY]
writes the ConfigMap's files to OUTDIR (koptd.conf with /etc/kopt/ made
OUTDIR/) for kopt to load; with POLICY, the ConfigMap's policy must say
what that file says (the same sections, keys and values; comments
aside). Prints each problem; exit 1 if any.
"""
import base64
import binascii
import configparser
import os
import re
import sys

import yaml
from kubernetes import client

MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
}
CAPS_OK = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN"}
CAPS_NEEDED = {"BPF", "PERFMON", "NET_ADMIN"}
CONF_KEYS = {
    "koptd": {"socket", "metrics"},
    "energy": {"policy", "plant", "mode"},
    "migration": {"model", "mode"},
}
problems = []


def bad(msg):
    problems.append(msg)


def diff(orig, back, path):
    """Where the round trip lost or changed something."""
    if isinstance(orig, dict):
        if not isinstance(back, dict):
            bad(f"{path}: expected an object")
            return
        for k, v in orig.items():
            if k not in back:
                bad(f"{path}.{k}: not a field of the API")
            else:
                diff(v, back[k], f"{path}.{k}")
    elif isinstance(orig, list):
        if not isinstance(back, list) or len(back) != len(orig):
            bad(f"{path}: expected a list")
            return
        for i, (a, b) in enumerate(zip(orig, back)):
            diff(a, b, f"{path}[{i}]")
    elif orig != back:
        bad(f"{path}: {orig!r} read back as {back!r}")


PRIMITIVES = {"int": int, "str": str, "bool": bool, "float": (int, float)}


def check_types(value, typ, path):
    """A value the model kept as given although its type is wrong."""
    if value is None or typ == "object":
        return
    if typ.startswith("list["):
        if not isinstance(value, list):
            bad(f"{path}: expected a list")
            return
        for i, v in enumerate(value):
            check_types(v, typ[5:-1], f"{path}[{i}]")
    elif typ.startswith("dict("):
        if not isinstance(value, dict):
            bad(f"{path}: expected a map")
            return
        inner = typ[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            check_types(v, inner, f"{path}.{k}")
    elif typ in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[typ])
        if typ == "int" and isinstance(value, bool):
            ok = False
        if not ok:
            bad(f"{path}: {value!r} is not {typ}")
    elif hasattr(value, "openapi_types"):
        for attr, t in value.openapi_types.items():
            check_types(getattr(value, attr), t,
                        f"{path}.{value.attribute_map[attr]}")


def main(manifest, outdir, reference=None):
    text = open(manifest).read()
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    api = client.ApiClient()
    byk = {}
    for i, d in enumerate(docs):
        key = (d.get("apiVersion"), d.get("kind"))
        name = d.get("metadata", {}).get("name", "?")
        where = f"document {i + 1} ({key[1]} {name})"
        if key not in MODELS:
            bad(f"{where}: unexpected apiVersion/kind {key}")
            continue
        try:
            obj = api._ApiClient__deserialize(d, MODELS[key])
        except (ValueError, TypeError) as e:
            bad(f"{where}: {e}")
            continue
        diff(d, api.sanitize_for_serialization(obj), where)
        check_types(obj, MODELS[key], where)
        byk.setdefault(key[1], []).append(d)
    for kind in ("ConfigMap", "DaemonSet"):
        if len(byk.get(kind, [])) != 1:
            bad(f"expected one {kind}, found {len(byk.get(kind, []))}")
    if problems:
        return
    cm, ds = byk["ConfigMap"][0], byk["DaemonSet"][0]
    check_daemonset(ds, cm, text)
    check_configmap(cm, ds, outdir, reference)


def check_daemonset(ds, cm, text):
    spec = ds["spec"]["template"]["spec"]
    meta = ds["spec"]["template"]["metadata"]
    sel = ds["spec"]["selector"]["matchLabels"]
    for k, v in sel.items():
        if meta.get("labels", {}).get(k) != v:
            bad(f"selector {k}={v} does not match the pod template's labels")
    if spec.get("hostNetwork") is not True:
        bad("hostNetwork: the energy job turns the host's NIC")
    if spec.get("dnsPolicy") != "ClusterFirstWithHostNet":
        bad("dnsPolicy: ClusterFirstWithHostNet goes with hostNetwork")
    if spec.get("hostPID") or spec.get("hostIPC"):
        bad("hostPID/hostIPC: koptd needs neither")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace < 30:
        bad(f"terminationGracePeriodSeconds {grace}: too short for a window and the restore")
    if not spec.get("tolerations"):
        bad("tolerations: a node agent runs on tainted nodes too")
    ann = meta.get("annotations", {})
    for k, v in (("prometheus.io/scrape", "true"), ("prometheus.io/port", "9559"),
                 ("prometheus.io/path", "/metrics")):
        if ann.get(k) != v:
            bad(f"annotation {k}: {ann.get(k)!r}, expected {v!r}")
    if len(spec["containers"]) != 1:
        bad("one container, koptd")
    c = spec["containers"][0]
    probe = c.get("readinessProbe", {}).get("httpGet", {})
    if probe.get("path") != "/metrics" or probe.get("port") != 9559:
        bad(f"readinessProbe: GET /metrics on 9559, found {probe}")
    res = c.get("resources", {})
    for k in ("requests", "limits"):
        if not res.get(k, {}).get("memory"):
            bad(f"resources.{k}.memory missing")
    sc = c.get("securityContext", {})
    if sc.get("privileged"):
        bad("privileged: capabilities instead")
    if sc.get("allowPrivilegeEscalation") is not False:
        bad("allowPrivilegeEscalation must be false")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        bad(f"capabilities.drop: expected [ALL], found {caps.get('drop')}")
    add = set(caps.get("add", []))
    if add - CAPS_OK:
        bad(f"capabilities beyond koptd's: {sorted(add - CAPS_OK)}")
    if CAPS_NEEDED - add:
        bad(f"capabilities koptd needs missing: {sorted(CAPS_NEEDED - add)}")
    for cap in sorted(add):
        if not re.search(rf"#.*\bCAP_{cap}\b:", text):
            bad(f"CAP_{cap}: no comment '# CAP_{cap}: why'")
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for path in ("/sys/fs/bpf", "/run/kopt"):
        m = mounts.get(path)
        host = vols.get(m["name"], {}).get("hostPath", {}).get("path") if m else None
        if host != path:
            bad(f"{path}: the host's {path} must be mounted there (found {host})")
        elif m.get("readOnly"):
            bad(f"{path}: koptd writes there")
    m = mounts.get("/etc/kopt")
    if not m or vols.get(m["name"], {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
        bad("/etc/kopt: the ConfigMap must be mounted there")
    if cm["metadata"].get("namespace") != ds["metadata"].get("namespace"):
        bad("the ConfigMap and the DaemonSet must share a namespace")


def ini(text, source):
    c = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    c.read_string(text, source=source)
    return c


def same_policy(files, conf, reference):
    path = conf.get("energy", "policy", fallback=None)
    name = path[len("/etc/kopt/"):] if path else None
    if name not in files:
        return
    ours = ini(files[name], name)
    ref = ini(open(reference).read(), reference)
    a = {s: dict(ours[s]) for s in ours.sections()}
    b = {s: dict(ref[s]) for s in ref.sections()}
    if a != b:
        for s in sorted(set(a) | set(b)):
            if a.get(s) != b.get(s):
                bad(f"ConfigMap {name} [{s}]: {a.get(s)} differs from {reference}: {b.get(s)}")


def check_configmap(cm, ds, outdir, reference=None):
    files = dict(cm.get("data", {}))
    for k, v in cm.get("binaryData", {}).items():
        try:
            files[k] = base64.b64decode(v, validate=True)
        except binascii.Error as e:
            bad(f"binaryData.{k}: not base64 as the API reads it: {e}")
    if "koptd.conf" not in files:
        bad("ConfigMap: no koptd.conf")
        return
    conf = ini(files["koptd.conf"], "koptd.conf")
    for sec in conf.sections():
        if sec not in CONF_KEYS:
            bad(f"koptd.conf: [{sec}]: not a section of koptd")
            continue
        for key in conf[sec]:
            if key not in CONF_KEYS[sec]:
                bad(f"koptd.conf: [{sec}] {key}: not a key of koptd")
    metrics = conf.get("koptd", "metrics", fallback="127.0.0.1:9559")
    addr, _, port = metrics.rpartition(":")
    if port != "9559":
        bad(f"koptd.conf metrics = {metrics}: the probe and annotations say 9559")
    if addr.startswith("127.") or addr in ("localhost", "[::1]"):
        bad(f"koptd.conf metrics = {metrics}: loopback, which the kubelet cannot probe")
    sock = conf.get("koptd", "socket", fallback="/run/kopt/koptd.sock")
    if not sock.startswith("/run/kopt/"):
        bad(f"koptd.conf socket = {sock}: not under the host's /run/kopt")
    for sec, key in (("energy", "policy"), ("migration", "model")):
        path = conf.get(sec, key, fallback=None)
        if path is None:
            continue
        if not path.startswith("/etc/kopt/") or path[len("/etc/kopt/"):] not in files:
            bad(f"koptd.conf [{sec}] {key} = {path}: not a file of the ConfigMap")
    if reference:
        same_policy(files, conf, reference)
    os.makedirs(outdir, exist_ok=True)
    for name, body in files.items():
        if name == "koptd.conf":
            body = body.replace("/etc/kopt/", outdir.rstrip("/") + "/")
        mode = "wb" if isinstance(body, bytes) else "w"
        with open(os.path.join(outdir, name), mode) as f:
            f.write(body)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: k8s_check.py MANIFEST OUTDIR [POLICY]")
    main(*sys.argv[1:])
    for p in problems:
        print(f"{sys.argv[1]}: {p}")
    sys.exit(1 if problems else 0)
