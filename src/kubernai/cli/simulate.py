"""``kubernai simulate``: will it schedule?"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from kubernai.errors import InputError

VERSIONS = ("1.31", "1.32", "1.33", "1.34")


def add_simulate_command(commands: Any) -> argparse.ArgumentParser:
    """Register ``simulate`` on the ``commands`` sub-parsers action."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "simulate",
        help="will it schedule? kube-scheduler, preemption, gangs, GPU sharing",
        description=(
            "Simulate kube-scheduler's default profile (filters, scores, "
            "preemption), ResourceQuota/LimitRange admission, Volcano gangs and "
            "NVIDIA GPU sharing/MIG: place the --submit workloads on the --cluster "
            "nodes and pods (manifests or a `kubectl get nodes,pods -A -o json` "
            "snapshot) and/or nodes made with --nodes."
        ),
        epilog=(
            "Exit codes: 0 every submitted pod scheduled, 1 some pod pending or "
            "rejected, 2 usage or input error, 3 internal error. Ties between "
            "equally scored nodes are broken at random as kube-scheduler does; "
            "--seed makes that repeatable."
        ),
    )
    parser.add_argument(
        "--cluster",
        nargs="+",
        default=[],
        metavar="PATH",
        help="Nodes, running Pods, PriorityClasses, quotas, LimitRanges, PDBs, "
        "Volcano Queues/PodGroups, device-plugin ConfigMaps, or a snapshot",
    )
    parser.add_argument(
        "--submit",
        nargs="+",
        default=[],
        metavar="PATH",
        help="workloads to schedule, in submission order",
    )
    parser.add_argument(
        "--nodes",
        action="append",
        default=[],
        metavar="SPEC",
        help="synthesise nodes: COUNTxPRODUCT[:GPUS][:mig=LAYOUT] "
        "(e.g. 64xNVIDIA-H100-80GB-HBM3:8) or COUNTxcpu[:CORES]; repeatable",
    )
    parser.add_argument(
        "--scheduler-config",
        metavar="FILE",
        help="a KubeSchedulerConfiguration; its default-scheduler profile is used",
    )
    parser.add_argument(
        "--k8s-version",
        choices=VERSIONS,
        default="1.33",
        help="Kubernetes version whose messages and rules to follow (default 1.33)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the tie-breaks (default 0)"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="per pod, every node's filter reason and score per plugin",
    )
    parser.add_argument(
        "-f", "--format", choices=("text", "json"), default="text", help="output format"
    )
    return parser


def run_simulate(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> int:
    """Run the simulation and print its report."""
    from kubernai.load.files import load_paths
    from kubernai.sim import Options, Profile, load_profile, simulate
    from kubernai.sim.render import render_text

    if not args.submit:
        raise InputError("simulate needs --submit PATH (the workloads to schedule)")
    if not args.cluster and not args.nodes:
        raise InputError("simulate needs --cluster PATH or --nodes SPEC")
    cluster = load_paths(args.cluster) if args.cluster else None
    submit = load_paths(args.submit)
    for loaded in (cluster, submit):
        if loaded is not None:
            for invalid in loaded.invalid:
                print(
                    f"kubernai: warning: {invalid.file}:{invalid.line}: "
                    f"{invalid.reason}",
                    file=stderr,
                )
    profile = (
        load_profile(args.scheduler_config) if args.scheduler_config else Profile()
    )
    options = Options(
        version=int(args.k8s_version.split(".")[1]),
        seed=args.seed,
        explain=args.explain,
    )
    result = simulate(
        cluster.resources if cluster else [],
        submit.resources,
        nodes=args.nodes,
        profile=profile,
        options=options,
    )
    if args.format == "json":
        json.dump(result.to_json(explain=args.explain), stdout, indent=2)
        stdout.write("\n")
    else:
        stdout.write(render_text(result, explain=args.explain))
    summary = result.summary
    return 0 if summary["pending"] == 0 and summary["rejected"] == 0 else 1
