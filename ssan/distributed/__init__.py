"""Beyond one machine: comparison sweeps and tiled whole-scene maps on a Ray cluster.

Ray is optional (`pip install -r requirements-ray.txt`): nothing outside this package imports
it, and `cluster.require_ray` says how to install it when it is missing.

  cluster.py     connect to a cluster, or start one on this machine bound to 127.0.0.1
  sweep.py       `compare` with every (model, seed) run a Ray task; results stream back
  tiles.py       row tiles with a halo of half a patch: each tile classified on its own
  mapping.py     the whole-scene map on Ray: tiles classified in parallel, stitched
  throughput.py  runs per hour sequentially and on Ray, for `ssan bench --sweep`
"""
