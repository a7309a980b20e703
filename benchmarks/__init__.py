"""hcanalysis benchmarks: each kernel family against its peers, side by side in one run.

``python -m benchmarks run [--quick] [--gpu] [--only msd,hops]`` runs every ``bench_*.py``
module and writes ``benchmarks/results/summary[_quick].json`` with each module's results.
"""
