"""ssan: the spectral-spatial joint attention network (SSAN, Mei/Pan et al. 2019) for
hyperspectral image classification, its comparators, and read-outs of its attention.

Data flows one way: scene -> split -> preprocessing fitted on train -> model ->
predictions / attention -> metrics / figures.
"""

__version__ = "0.1.0"
